#!/usr/bin/env python3
"""mido_check.py - compare Leitmotif's X.melody.json score with what mido reads from X.mid.

Usage:  python tests/interop/mido_check.py DIR
        (or .interop/venv/bin/python tests/interop/mido_check.py DIR)

For every ``X.mid`` directly inside DIR (not recursive) that has a sibling
``X.melody.json`` (format "leitmotif/1"), the MIDI file is read with mido 1.3.3
and checked against the contract of Leitmotif's MIDI writer:

* SMF type 1, ticks_per_beat == score.ppq, 1 + len(score.tracks) tracks;
* every track ends with exactly one end_of_track, as its last message, at
  absolute tick score.end_tick;
* track 0 (conductor): track_name == score.name when that is non-empty (an
  empty name may be absent or an empty track_name); set_tempo (tick, tempo),
  time_signature (tick, numerator, denominator), key_signature (tick, mido key
  string from sharps/minor) and marker (tick, text) lists equal the score's, in
  order; no note events at all;
* track i+1 <-> score.tracks[i]: track_name == name (an empty name may be
  absent); the first program_change
  has program == program and channel == channel; every program_change and
  note event is on that channel; notes paired note_on -> note_off (note_on with
  velocity 0 counts as note_off) first-in-first-out per (channel, pitch) in file
  order give (start, duration, pitch, velocity), compared as a sorted list
  with the score track's notes sorted the same way; unmatched note_on/off are
  errors.

Text (track names, markers) is expected to be the UTF-8 bytes of the JSON
string (mido is told to decode latin-1, then the raw bytes are compared).

Output: one line per mismatch ``FILE: WHAT: ours=... mido=...`` (at most 20
per file), then ``mido: N files checked, M mismatches``.
Exit status: 0 all good; 1 any mismatch or zero files checked; 2 usage/setup error.

Only the standard library plus mido is used. If ``import mido`` fails under
the running interpreter, the script re-executes itself with
<repo>/.interop/venv/bin/python (made by scripts/setup-interop.sh), where
<repo> is found relative to this file (tests/interop/ -> ../..); the env var
LEITMOTIF_INTEROP_DIR overrides the ``.interop`` folder.
"""

import json
import os
import sys
from collections import defaultdict, deque

MAX_LINES_PER_FILE = 20
EXPECTED_MIDO = "1.3.3"

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
INTEROP_DIR = os.path.abspath(os.environ.get("LEITMOTIF_INTEROP_DIR") or os.path.join(REPO_ROOT, ".interop"))

try:
    import mido
except ImportError:
    venv_py = os.path.join(INTEROP_DIR, "venv", "bin", "python")
    if os.path.exists(venv_py) and os.environ.get("_LEITMOTIF_MIDO_REEXEC") != "1":
        os.environ["_LEITMOTIF_MIDO_REEXEC"] = "1"
        os.execv(venv_py, [venv_py, os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write("mido_check: cannot import mido; run scripts/setup-interop.sh first "
                     "(expected %s)\n" % venv_py)
    sys.exit(2)

# (sharps, minor) -> mido key_signature string (mido.midifiles.meta._key_signature_decode).
MIDO_KEY = {
    (-7, False): "Cb", (-6, False): "Gb", (-5, False): "Db", (-4, False): "Ab",
    (-3, False): "Eb", (-2, False): "Bb", (-1, False): "F", (0, False): "C",
    (1, False): "G", (2, False): "D", (3, False): "A", (4, False): "E",
    (5, False): "B", (6, False): "F#", (7, False): "C#",
    (-7, True): "Abm", (-6, True): "Ebm", (-5, True): "Bbm", (-4, True): "Fm",
    (-3, True): "Cm", (-2, True): "Gm", (-1, True): "Dm", (0, True): "Am",
    (1, True): "Em", (2, True): "Bm", (3, True): "F#m", (4, True): "C#m",
    (5, True): "G#m", (6, True): "D#m", (7, True): "A#m",
}

NOTE_TYPES = ("note_on", "note_off")


def raw(text):
    """mido decoded latin-1: recover the file's bytes."""
    return text.encode("latin1")


def show_text(text):
    """Text as read by mido, shown as UTF-8 (undecodable bytes escaped)."""
    return raw(text).decode("utf-8", errors="backslashreplace")


def texts_equal(mido_text, ours):
    return raw(mido_text) == ours.encode("utf-8")


def absolute(track):
    """[(abs_tick, msg)] for a mido track."""
    out, t = [], 0
    for msg in track:
        t += msg.time
        out.append((t, msg))
    return out


def pair_notes(events, report, where):
    """FIFO pairing per (channel, pitch); returns sorted [(start, dur, pitch, vel)]."""
    pending = defaultdict(deque)
    notes = []
    for tick, msg in events:
        if msg.type == "note_on" and msg.velocity > 0:
            pending[(msg.channel, msg.note)].append((tick, msg.velocity))
        elif msg.type in NOTE_TYPES:
            q = pending[(msg.channel, msg.note)]
            if not q:
                report(f"{where}: note_off without note_on", f"pitch={msg.note} channel={msg.channel} tick={tick}")
                continue
            start, vel = q.popleft()
            notes.append((start, tick - start, msg.note, vel))
    for (ch, pitch), q in sorted(pending.items()):
        for start, vel in q:
            report(f"{where}: note_on never released", f"pitch={pitch} channel={ch} start={start}")
    return sorted(notes)


def compare_lists(what, ours, theirs, report):
    if len(ours) != len(theirs):
        report(f"{what}: count", f"ours={len(ours)} mido={len(theirs)} (ours={ours} mido={theirs})")
        return
    for i, (o, t) in enumerate(zip(ours, theirs)):
        if o != t:
            report(f"{what}[{i}]", f"ours={o} mido={t}")


def check_file(mid_path, json_path, report):
    try:
        with open(json_path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        report("<melody.json>", f"cannot parse {json_path}: {e}")
        return
    if doc.get("format") != "leitmotif/1":
        report("format", f"ours={doc.get('format')!r} expected 'leitmotif/1'")
    score = doc.get("score")
    if not isinstance(score, dict):
        report("<melody.json>", "no 'score' object")
        return
    try:
        mf = mido.MidiFile(mid_path, charset="latin1")
    except Exception as e:  # noqa: BLE001 - any parse failure is a mismatch
        report("<midi>", f"mido failed to read the file: {type(e).__name__}: {e}")
        return

    name = score.get("name", "")
    ppq = score.get("ppq")
    end_tick = score.get("end_tick")
    tracks = score.get("tracks", [])

    if mf.type != 1:
        report("smf type", f"ours=1 mido={mf.type}")
    if mf.ticks_per_beat != ppq:
        report("ticks_per_beat", f"ours={ppq} mido={mf.ticks_per_beat}")
    if len(mf.tracks) != 1 + len(tracks):
        report("track count", f"ours=1+{len(tracks)} mido={len(mf.tracks)} "
                              f"(mido names: {[t.name for t in mf.tracks]})")

    abs_tracks = [absolute(t) for t in mf.tracks]

    # End-of-track on every track.
    for ti, evs in enumerate(abs_tracks):
        eots = [(i, tick) for i, (tick, m) in enumerate(evs) if m.type == "end_of_track"]
        if len(eots) != 1:
            report(f"track {ti}: end_of_track", f"expected exactly 1, mido found {len(eots)}")
        if not evs or evs[-1][1].type != "end_of_track":
            report(f"track {ti}: last message", f"expected end_of_track, mido={evs[-1][1] if evs else None}")
        elif evs[-1][0] != end_tick:
            report(f"track {ti}: end_of_track tick", f"ours={end_tick} mido={evs[-1][0]}")

    if not abs_tracks:
        return

    # Conductor.
    cond = abs_tracks[0]
    names = [m.name for _, m in cond if m.type == "track_name"]
    if name:
        if len(names) != 1 or not texts_equal(names[0], name):
            report("conductor track_name", f"ours={name!r} mido={[show_text(n) for n in names]}")
    elif any(n != "" for n in names):
        report("conductor track_name", f"ours='' (none) mido={[show_text(n) for n in names]}")

    compare_lists("conductor set_tempo (tick, micros)",
                  [(t.get("tick"), t.get("micros_per_quarter")) for t in score.get("tempos", [])],
                  [(tick, m.tempo) for tick, m in cond if m.type == "set_tempo"], report)
    compare_lists("conductor time_signature (tick, num, den)",
                  [(t.get("tick"), t.get("numerator"), t.get("denominator"))
                   for t in score.get("time_signatures", [])],
                  [(tick, m.numerator, m.denominator) for tick, m in cond if m.type == "time_signature"],
                  report)
    ours_keys = []
    for k in score.get("key_signatures", []):
        key = MIDO_KEY.get((k.get("sharps"), bool(k.get("minor"))))
        if key is None:
            report("key_signature", f"ours has unrepresentable sharps={k.get('sharps')} minor={k.get('minor')}")
        ours_keys.append((k.get("tick"), key))
    compare_lists("conductor key_signature (tick, key)", ours_keys,
                  [(tick, m.key) for tick, m in cond if m.type == "key_signature"], report)
    ours_markers = [(m.get("tick"), m.get("text", "")) for m in score.get("markers", [])]
    mido_markers = [(tick, m.text) for tick, m in cond if m.type == "marker"]
    if len(ours_markers) != len(mido_markers):
        report("conductor marker: count", f"ours={len(ours_markers)} mido={len(mido_markers)} "
                                          f"(ours={ours_markers} mido={[(t, show_text(x)) for t, x in mido_markers]!r})")
    else:
        for i, ((ot, otext), (mt, mtext)) in enumerate(zip(ours_markers, mido_markers)):
            if ot != mt or not texts_equal(mtext, otext):
                report(f"conductor marker[{i}]", f"ours={(ot, otext)!r} mido={(mt, show_text(mtext))!r}")
    cond_notes = [(tick, m) for tick, m in cond if m.type in NOTE_TYPES]
    if cond_notes:
        tick, m = cond_notes[0]
        report("conductor", f"has {len(cond_notes)} note events (first: {m} at tick {tick})")

    # Score tracks.
    for i, st in enumerate(tracks):
        if i + 1 >= len(abs_tracks):
            break
        evs = abs_tracks[i + 1]
        where = f"track {i + 1} ({st.get('name', '')!r})"
        ch = st.get("channel")
        tnames = [m.name for _, m in evs if m.type == "track_name"]
        # An unnamed track may carry no track_name event at all.
        expected_names = 1 if st.get("name", "") else len(tnames)
        if len(tnames) != expected_names or (tnames and not texts_equal(tnames[0], st.get("name", ""))):
            report(f"{where}: track_name", f"ours={st.get('name', '')!r} mido={[show_text(n) for n in tnames]}")
        pcs = [m for _, m in evs if m.type == "program_change"]
        if not pcs:
            report(f"{where}: program_change", f"ours=(program {st.get('program')}, channel {ch}) mido=none")
        else:
            if (pcs[0].program, pcs[0].channel) != (st.get("program"), ch):
                report(f"{where}: program_change (program, channel)",
                       f"ours={(st.get('program'), ch)} mido={(pcs[0].program, pcs[0].channel)}")
            for m in pcs[1:]:
                if m.channel != ch:
                    report(f"{where}: program_change channel", f"ours={ch} mido={m.channel}")
        off_channel = [(tick, m) for tick, m in evs if m.type in NOTE_TYPES and m.channel != ch]
        if off_channel:
            tick, m = off_channel[0]
            report(f"{where}: note channel", f"ours={ch} mido={m.channel} ({len(off_channel)} events, "
                                             f"first at tick {tick}: {m})")
        got = pair_notes([(t, m) for t, m in evs if m.type in NOTE_TYPES], report, where)
        ours = sorted((n.get("start"), n.get("duration"), n.get("pitch"), n.get("velocity"))
                      for n in st.get("notes", []))
        if len(ours) != len(got):
            report(f"{where}: note count", f"ours={len(ours)} mido={len(got)}")
        ours_set, got_left = list(ours), list(got)
        # Report differences as a multiset diff (start, duration, pitch, velocity).
        for n in ours:
            if n in got_left:
                got_left.remove(n)
                ours_set.remove(n)
        for a, b in zip(ours_set, got_left):
            report(f"{where}: note (start, duration, pitch, velocity)", f"ours={a} mido={b}")
        for a in ours_set[len(got_left):]:
            report(f"{where}: note only in ours", f"{a}")
        for b in got_left[len(ours_set):]:
            report(f"{where}: note only in mido", f"{b}")


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: python tests/interop/mido_check.py DIR\n")
        return 2
    d = argv[0]
    try:
        entries = sorted(os.listdir(d))
    except OSError as e:
        sys.stderr.write(f"mido_check: cannot read directory {d}: {e}\n")
        return 2
    try:
        from importlib.metadata import version
        mido_version = version("mido")
    except Exception:  # noqa: BLE001
        mido_version = "unknown"
    if mido_version != EXPECTED_MIDO:
        sys.stderr.write(f"mido_check: warning: mido {mido_version}, expected {EXPECTED_MIDO}\n")

    checked = mismatches = 0
    for entry in entries:
        if not entry.endswith(".mid"):
            continue
        stem = entry[: -len(".mid")]
        json_path = os.path.join(d, stem + ".melody.json")
        if not os.path.isfile(json_path):
            continue
        mid_path = os.path.join(d, entry)
        checked += 1
        count = 0

        def report(what, msg, _p=mid_path):
            nonlocal count
            count += 1
            if count <= MAX_LINES_PER_FILE:
                print(f"{_p}: {what}: {msg}")

        check_file(mid_path, json_path, report)
        if count > MAX_LINES_PER_FILE:
            print(f"{mid_path}: ... {count - MAX_LINES_PER_FILE} more mismatches not shown")
        mismatches += count

    print(f"mido: {checked} files checked, {mismatches} mismatches")
    if checked == 0:
        print(f"mido: no X.mid with a sibling X.melody.json found in {d}")
    return 1 if (mismatches or checked == 0) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
