//! A key change is prepared: the bass and chords of the last beats before the seam that
//! no player has had yet move onto a pivot chord leading into the new key; what a player
//! already has stays as it was; a dropped seam gives its beats back.

pub mod common;

use common::{Host, director, fake_compose};
use leitmotif_director::{DirectorSettings, JobKind, PPQ};
use leitmotif_request::{Composition, MoodTable, Request, Transition};
use leitmotif_score::theory::{Chord, PitchClass, Scale};
use leitmotif_score::{Note, Role, Score};
use leitmotif_tokens::Layer;

const TABLE: &str = r#"(moods: {
    "walk": (words: ["walk"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody, bass, chords], transition: next_bar),
    "fight": (words: ["fight"], mode: natural_minor, tempo_bpm: 120, density: 0.5,
              register: 0.5, intensity: 0.5, layers: [melody, bass, chords],
              transition: next_bar),
    "town": (words: ["town"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody, bass, chords], transition: next_bar),
})"#;

/// The fake composer's melody over bass and chords as the arranger writes them at low
/// intensity: each bar one held tonic in the bass and a held tonic triad.
fn pad_compose(request: &Request) -> Composition {
    let mut c = fake_compose(request);
    let (lo, hi) = c.span;
    let bar = c.meter.ticks_per_bar(c.score.ppq);
    let tonic = c.key.tonic.index();
    let third = if c.key.mode.is_minor() { 3 } else { 4 };
    for track in &mut c.score.tracks {
        let pitches: Vec<u8> = match track.role {
            Role::Bass => vec![36 + tonic],
            Role::Chords => vec![60 + tonic, 60 + tonic + third, 60 + tonic + 7],
            _ => continue,
        };
        track.notes.retain(|n| n.start < lo);
        for start in (lo..hi).step_by(bar as usize) {
            for &pitch in &pitches {
                track.notes.push(Note {
                    start,
                    duration: bar,
                    pitch,
                    velocity: 70,
                });
            }
        }
    }
    c.score.normalize();
    c
}

/// A session in "walk" run for `seconds` (120 bpm: a beat is half a second, a bar two).
fn walking(seconds: f64) -> Host {
    let settings = DirectorSettings {
        seed: 5,
        initial_state: "walk".to_owned(),
        ..DirectorSettings::default()
    };
    let table = MoodTable::from_ron(TABLE).unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::with_composer(director(settings, table), pad_compose);
    host.run(seconds, 0.05);
    host
}

fn change(host: &mut Host, state: &str) -> u64 {
    host.director
        .set_state(state)
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    host.jobs
        .iter()
        .rev()
        .find(|j| j.kind == JobKind::Change)
        .map(|j| j.due_tick)
        .unwrap_or_else(|| panic!("no state change job"))
}

/// The notes of the tracks of `role`.
fn notes(score: &Score, role: Role) -> Vec<Note> {
    score
        .tracks
        .iter()
        .filter(|t| t.role == role)
        .flat_map(|t| t.notes.iter().copied())
        .collect()
}

fn tonic_triad(key: Scale) -> Chord {
    key.triad(0)
        .unwrap_or_else(|| panic!("{key} has no triads"))
}

#[test]
fn a_key_change_moves_the_last_beats_onto_a_pivot_into_the_new_key() {
    // At 8.7 s the music is in bar 5, past its second beat; the change lands on the bar
    // line at 10 s, and the beats at 9 and 9.5 s are not played yet.
    let mut host = walking(8.7);
    let clock = host.director.clock();
    let from = clock.next_boundary(host.director.tick(), Transition::NextBeat);
    let bar_line = clock.next_boundary(host.director.tick(), Transition::NextBar);
    let early = host.director.scheduled_score(0, from);
    let early_tail = host.director.scheduled_score(from, bar_line);
    let due = change(&mut host, "fight");
    assert_eq!(due, bar_line);
    let d = &host.director;
    let bar = d.clock().segment_at(due).bar_ticks();
    let beat = d.clock().segment_at(due).beat_ticks();
    assert_eq!(due - from, 2 * beat);

    let now = d
        .current_phrase()
        .unwrap_or_else(|| panic!("nothing plays"));
    let next = d.next_phrase().unwrap_or_else(|| panic!("no new phrase"));
    assert_eq!((now.end_tick, next.start_tick), (due, due));
    assert!(!now.key.mode.is_minor() && next.key.mode.is_minor());
    assert_eq!(
        next.key.tonic, now.key.tonic,
        "same tonic, minor: {}",
        next.key
    );
    let (at, pivot) = now
        .pivot
        .unwrap_or_else(|| panic!("no pivot before the key change"));
    assert_eq!(at, from);
    // A chord that moves the harmony and leads into the new tonic (its dominant,
    // subdominant or leading-tone triad, as the old melody there allows), neither key's
    // tonic triad.
    assert_ne!(pivot, tonic_triad(now.key));
    assert_ne!(pivot, tonic_triad(next.key));
    let lead = next.key.tonic.interval_to(pivot.root);
    assert!([5, 7, 11].contains(&lead), "{pivot} into {}", next.key);

    // What the player has not had sounds the pivot: the held bass and triad stop at `from`
    // and sound again on it, the bass on its root; the triad's tones that belong to the
    // pivot sound on, the others move, so three different tones of it sound.
    let stretch = d.scheduled_score(from, due);
    let bass = notes(&stretch, Role::Bass);
    let chords = notes(&stretch, Role::Chords);
    assert_eq!(bass.len(), 1, "{bass:?}");
    assert_eq!(bass[0].start, 0);
    assert_eq!(PitchClass::from_midi(bass[0].pitch), pivot.root);
    assert!(!chords.is_empty());
    assert!(
        chords
            .iter()
            .all(|n| n.start == 0 && n.duration == due - from)
    );
    let last_bar = d.scheduled_score(due - bar, due);
    let offset = from - (due - bar);
    let mut sounding: Vec<u8> = notes(&last_bar, Role::Chords)
        .iter()
        .filter(|n| n.start <= offset && n.start + n.duration > offset)
        .map(|n| n.pitch)
        .collect();
    sounding.sort_unstable();
    sounding.dedup();
    assert_eq!(sounding.len(), 3, "{chords:?}");
    assert!(
        sounding
            .iter()
            .all(|p| pivot.contains(PitchClass::from_midi(*p)))
    );
    // The melody is the phrase's own, and the music before `from` is as it was.
    assert_eq!(
        notes(&stretch, Role::Melody),
        notes(&early_tail, Role::Melody)
    );
    assert_ne!(notes(&stretch, Role::Bass), notes(&early_tail, Role::Bass));
    assert_eq!(d.scheduled_score(0, from), early);
    // The held notes before `from` end there; the new music starts on its own tonic.
    let bar_before = d.scheduled_score(due - bar, from);
    assert!(
        notes(&bar_before, Role::Bass)
            .iter()
            .all(|n| n.start + n.duration == from - (due - bar))
    );

    // The audio player gets the same pitches, the moved halves as notes of their own.
    let seconds = |t: u64| d.clock().seconds_at(t);
    let audible = d.audible(seconds(from), seconds(due));
    for (layer, expected) in [(Layer::Bass, &bass), (Layer::Chords, &chords)] {
        let mut heard: Vec<u8> = audible
            .notes
            .iter()
            .filter(|n| n.layer == layer && n.on >= seconds(from) - 1e-9)
            .map(|n| n.pitch)
            .collect();
        let mut written: Vec<u8> = expected.iter().map(|n| n.pitch).collect();
        heard.sort_unstable();
        written.sort_unstable();
        assert_eq!(heard, written, "{layer:?}");
    }
    // The session file, once played, says the same.
    host.run(2.0, 0.05);
    let session = host.director.session_score();
    let whole = notes(&session, Role::Bass);
    assert!(
        whole
            .iter()
            .any(|n| n.start == from && PitchClass::from_midi(n.pitch) == pivot.root)
    );
}

#[test]
fn a_dropped_seam_gives_back_the_beats_no_player_has_had() {
    let mut host = walking(8.7);
    let from = host
        .director
        .clock()
        .next_boundary(host.director.tick(), Transition::NextBeat);
    let before = host.director.scheduled_score(0, from + PPQ as u64 * 2);
    change(&mut host, "fight");
    assert!(
        host.director
            .current_phrase()
            .and_then(|p| p.pivot)
            .is_some()
    );
    // Back to the first mood's key before the seam: nothing was played, nothing moved.
    change(&mut host, "walk");
    let now = host.director.current_phrase();
    assert_eq!(now.and_then(|p| p.pivot), None);
    assert_eq!(
        host.director.scheduled_score(0, from + PPQ as u64 * 2),
        before
    );
}

#[test]
fn a_pivot_a_player_has_had_stays_as_played() {
    let mut host = walking(8.7);
    let due = change(&mut host, "fight");
    let (from, _) = host
        .director
        .current_phrase()
        .and_then(|p| p.pivot)
        .unwrap_or_else(|| panic!("no pivot"));
    // A player has sent the first beat of it; then the game goes back.
    host.director.commit(from + PPQ as u64);
    let played = host.director.scheduled_score(from, from + PPQ as u64);
    change(&mut host, "walk");
    assert_eq!(
        host.director
            .current_phrase()
            .and_then(|p| p.pivot.map(|(at, _)| at)),
        Some(from)
    );
    assert_eq!(
        host.director.scheduled_score(from, from + PPQ as u64),
        played
    );
    let after = host.director.next_phrase().map(|p| p.start_tick);
    assert_eq!(
        after,
        Some(due),
        "the walk music comes on the same bar line"
    );
}

#[test]
fn no_pivot_without_a_key_change_or_a_beat_left() {
    // Same key: nothing moves.
    let mut host = walking(8.7);
    let bar_line = host
        .director
        .clock()
        .next_boundary(host.director.tick(), Transition::NextBar);
    let before = host.director.scheduled_score(0, bar_line);
    let due = change(&mut host, "town");
    assert_eq!(due, bar_line);
    assert_eq!(host.director.current_phrase().and_then(|p| p.pivot), None);
    assert_eq!(host.director.scheduled_score(0, due), before);
    // Past the bar's last beat line there is no room before the seam.
    let mut late = walking(9.6);
    change(&mut late, "fight");
    assert_eq!(late.director.current_phrase().and_then(|p| p.pivot), None);
}
