//! Broken files get a typed error that names the problem; nothing panics.

use leitmotif_score::melody::MelodyDocument;
use leitmotif_score::{DocumentError, MidiError, Note, Role, Score, Track, midi, tone};

/// A small valid file to break in different ways.
fn valid_midi() -> Vec<u8> {
    let mut score = Score::default();
    let mut track = Track::new("Melody", Role::Melody, 0, 0);
    track.notes = (0..8u64)
        .map(|i| Note {
            start: i * 240,
            duration: 240,
            pitch: 60 + u8::try_from(i).unwrap_or(0),
            velocity: 80,
        })
        .collect();
    score.tracks.push(track);
    score.normalize();
    midi::write_midi(&score).unwrap_or_else(|e| panic!("{e}"))
}

fn read_err(bytes: &[u8]) -> MidiError {
    match midi::read_midi(bytes) {
        Ok(score) => panic!("expected an error, read {} notes", score.note_count()),
        Err(e) => e,
    }
}

/// A header chunk with the given format, track count and division, then `tracks` raw chunks.
fn smf(format: u16, ntracks: u16, division: u16, tracks: &[&[u8]]) -> Vec<u8> {
    let mut out = b"MThd\0\0\0\x06".to_vec();
    for v in [format, ntracks, division] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    for body in tracks {
        out.extend_from_slice(b"MTrk");
        out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(body);
    }
    out
}

#[test]
fn empty_and_wrong_magic() {
    assert_eq!(read_err(b""), MidiError::Empty);
    let e = read_err(b"RIFX\0\0\0\0");
    assert!(matches!(e, MidiError::NotMidi { .. }), "{e}");
    assert!(e.to_string().contains("RIFX"), "{e}");
    let e = read_err(b"{\"format\": \"leitmotif/1\"}");
    assert!(matches!(e, MidiError::NotMidi { .. }), "{e}");
}

#[test]
fn every_truncation_of_a_valid_file_is_an_error() {
    let bytes = valid_midi();
    for len in 1..bytes.len() {
        let e = read_err(&bytes[..len]);
        assert!(
            matches!(
                e,
                MidiError::Truncated { .. }
                    | MidiError::ChunkPastEnd { .. }
                    | MidiError::HeaderTooShort(_)
                    | MidiError::TrackCount { .. }
            ),
            "cut at {len}: {e:?}"
        );
    }
}

#[test]
fn chunk_lengths_past_the_end() {
    let mut bytes = valid_midi();
    // The first track's length field: 4 GiB - 1.
    bytes[18..22].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = read_err(&bytes);
    assert!(
        matches!(
            e,
            MidiError::ChunkPastEnd {
                index: 1,
                declared: u32::MAX,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("4294967295"), "{e}");
    let mut header = valid_midi();
    header[4..8].copy_from_slice(&0x1000_0000u32.to_be_bytes());
    assert!(matches!(
        read_err(&header),
        MidiError::ChunkPastEnd { index: 0, .. }
    ));
}

#[test]
fn bad_divisions_and_formats() {
    let track: &[u8] = b"\x00\xff\x2f\x00";
    assert_eq!(read_err(&smf(1, 1, 0, &[track])), MidiError::ZeroPpq);
    assert_eq!(
        read_err(&smf(1, 1, 0xE728, &[track])),
        MidiError::SmpteTiming
    );
    assert_eq!(
        read_err(&smf(2, 1, 480, &[track])),
        MidiError::UnsupportedFormat(2)
    );
    assert_eq!(
        read_err(&smf(1, 3, 480, &[track])),
        MidiError::TrackCount {
            declared: 3,
            found: 1
        }
    );
    let short = b"MThd\0\0\0\x04\0\x01\0\x01";
    assert_eq!(read_err(short), MidiError::HeaderTooShort(4));
}

#[test]
fn absurd_delta_times_are_rejected() {
    // Forty deltas of the largest variable-length value, 0x0FFFFFFF ticks each.
    let mut body = Vec::new();
    for _ in 0..40 {
        body.extend_from_slice(b"\xff\xff\xff\x7f\x90\x3c\x40");
    }
    body.extend_from_slice(b"\x00\xff\x2f\x00");
    let e = read_err(&smf(0, 1, 480, &[&body]));
    assert!(matches!(e, MidiError::TooLong { track: 0, .. }), "{e:?}");
}

#[test]
fn malformed_events_and_impossible_meta_values() {
    // A data byte with the top bit set where a note number belongs.
    let e = read_err(&smf(0, 1, 480, &[b"\x00\x90\xbc\x40\x00\xff\x2f\x00"]));
    assert!(matches!(e, MidiError::Malformed { track: 0, .. }), "{e:?}");
    // Running status with no status byte before it.
    let e = read_err(&smf(0, 1, 480, &[b"\x00\x3c\x40\x00\xff\x2f\x00"]));
    assert!(matches!(e, MidiError::Malformed { .. }), "{e:?}");
    // A tempo of zero microseconds per quarter.
    let e = read_err(&smf(
        0,
        1,
        480,
        &[b"\x00\xff\x51\x03\x00\x00\x00\x00\xff\x2f\x00"],
    ));
    assert!(matches!(e, MidiError::BadEvent { .. }), "{e:?}");
    assert!(e.to_string().contains("tempo"), "{e}");
    // A time signature of 0/4 and a key signature with 9 sharps.
    let e = read_err(&smf(
        0,
        1,
        480,
        &[b"\x00\xff\x58\x04\x00\x02\x18\x08\x00\xff\x2f\x00"],
    ));
    assert!(e.to_string().contains("time signature"), "{e}");
    let e = read_err(&smf(
        0,
        1,
        480,
        &[b"\x00\xff\x59\x02\x09\x00\x00\xff\x2f\x00"],
    ));
    assert!(e.to_string().contains("key signature"), "{e}");
}

#[test]
fn lenient_where_real_files_need_it() {
    // Running status, note-on velocity 0 as note-off, a note never released, an orphan
    // note-off, and no End-of-Track: all read.
    let body = b"\x00\x90\x3c\x40\x83\x60\x3c\x00\x00\x3e\x40\x00\x80\x45\x00\x83\x60\x90\x40\x40";
    let score = midi::read_midi(&smf(0, 1, 480, &[body])).unwrap_or_else(|e| panic!("{e}"));
    let notes: Vec<(u64, u64, u8)> = score.tracks[0]
        .notes
        .iter()
        .map(|n| (n.start, n.duration, n.pitch))
        .collect();
    assert_eq!(notes, vec![(0, 480, 60), (480, 480, 62), (960, 0, 64)]);
}

#[test]
fn json_documents_with_unknown_fields_or_versions() {
    let doc = MelodyDocument::new(Score::default());
    let json = doc.to_json().unwrap_or_else(|e| panic!("{e}"));
    assert!(MelodyDocument::from_json(&json).is_ok());

    let other = json.replace("leitmotif/1", "leitmotif/2");
    match MelodyDocument::from_json(&other) {
        Err(DocumentError::UnsupportedVersion { found, .. }) => assert_eq!(found, "leitmotif/2"),
        other => panic!("expected a version error, got {other:?}"),
    }
    let extra = json.replacen("\"ppq\"", "\"tempo_bpm\": 120, \"ppq\"", 1);
    let e = MelodyDocument::from_json(&extra)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("unknown field `tempo_bpm`"), "{e}");
    let e = MelodyDocument::from_json("{\"format\": \"leitmotif/1\"")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("invalid melody JSON") && e.contains("line 1"),
        "{e}"
    );
    let e = MelodyDocument::from_json("[]")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("invalid melody JSON"), "{e}");
}

#[test]
fn json_documents_with_impossible_values() {
    let mut score = Score::default();
    let mut track = Track::new("Melody", Role::Melody, 0, 0);
    track.notes.push(Note {
        start: 0,
        duration: 10,
        pitch: 60,
        velocity: 80,
    });
    score.tracks.push(track);
    score.normalize();
    let json = MelodyDocument::new(score)
        .to_json()
        .unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        ("\"velocity\": 80", "\"velocity\": 0", "velocity 0"),
        (
            "\"velocity\": 80",
            "\"velocity\": 300",
            "invalid melody JSON",
        ),
        ("\"pitch\": 60", "\"pitch\": 128", "pitch 128"),
        ("\"channel\": 0", "\"channel\": 9", "drums go on channel 9"),
        (
            "\"end_tick\": 10",
            "\"end_tick\": 5",
            "after the score's end_tick",
        ),
        ("\"ppq\": 480", "\"ppq\": 0", "resolution"),
        ("\"start\": 0", "\"start\": -5", "invalid melody JSON"),
        (
            "\"role\": \"melody\"",
            "\"role\": \"kazoo\"",
            "unknown variant `kazoo`",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(json.contains(from), "fixture lacks {from}");
        let broken = json.replacen(from, to, 1);
        let e = MelodyDocument::from_json(&broken)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(expected), "{to}: got {e:?}");
    }
}

#[test]
fn ron_typos() {
    let ron = MelodyDocument::new(Score::default())
        .to_ron()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(MelodyDocument::from_ron(&ron).is_ok());
    for (from, to, expected) in [
        ("ppq", "ppqq", "ppqq"),
        ("format", "formt", "formt"),
        ("480", "\"480\"", "invalid melody RON"),
        ("leitmotif/1", "leitmotif/9", "leitmotif/9"),
    ] {
        let broken = ron.replacen(from, to, 1);
        let e = MelodyDocument::from_ron(&broken)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(expected), "{to}: got {e:?}");
    }
    let e = MelodyDocument::from_ron("(format: \"leitmotif/1\", score: (")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("invalid melody RON"), "{e}");
}

#[test]
fn tone_json_outside_its_shape() {
    let mut score = Score::default();
    let mut track = Track::new("Lead", Role::Melody, 80, 0);
    track.notes.push(Note {
        start: 0,
        duration: 10,
        pitch: 60,
        velocity: 127,
    });
    score.tracks.push(track);
    score.normalize();
    let json = tone::to_tone_json(&score).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tone::from_tone_json(&json).ok().as_ref(), Some(&score));
    for (from, to, expected) in [
        ("\"velocity\": 1.0", "\"velocity\": 0.0", "velocity"),
        ("\"velocity\": 1.0", "\"velocity\": 2.0", "velocity"),
        ("\"key", "\"kee", "unknown field"),
        ("\"ppq\": 480", "\"ppq\": 480.5", "invalid tone JSON"),
        ("\"midi\": 60", "\"midi\": 200", "pitch 200"),
    ] {
        let broken = if from == "\"key" {
            json.replacen("\"keySignatures\"", "\"keeSignatures\"", 1)
        } else {
            json.replacen(from, to, 1)
        };
        assert_ne!(broken, json, "fixture lacks {from}");
        let e = tone::from_tone_json(&broken)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(expected), "{to}: got {e:?}");
    }
}
