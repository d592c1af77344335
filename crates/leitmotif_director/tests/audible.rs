//! What an audio player reads: notes in session seconds with stable keys, on alternating
//! decks, the old state's music going on under a crossfade and stopping on a cut; and
//! `commit`, which keeps music already sent from changing.

pub mod common;

use common::{Host, director, rules_table};
use leitmotif_director::{DirectorSettings, Lane, SoundingNote};
use leitmotif_request::MoodTable;

/// Two 120 bpm moods: "one" cuts in on the next bar, "two" crossfades over 2 beats.
const FADES: &str = r#"(moods: {
    "one": (words: ["explore"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
            intensity: 0.5, layers: [melody], transition: next_bar),
    "two": (mode: dorian, tempo_bpm: 120, density: 0.5, register: 0.5, intensity: 0.5,
            layers: [melody], transition: next_bar, crossfade_beats: 2),
})"#;

fn host(table: MoodTable, state: &str) -> Host {
    let settings = DirectorSettings {
        initial_state: state.to_owned(),
        ..DirectorSettings::default()
    };
    Host::new(director(settings, table))
}

fn fades() -> MoodTable {
    MoodTable::from_ron(FADES).unwrap_or_else(|e| panic!("{e}"))
}

fn on_deck(notes: &[SoundingNote], deck: u8) -> Vec<SoundingNote> {
    let mut out: Vec<SoundingNote> = notes
        .iter()
        .filter(|n| n.lane == Lane::Deck(deck))
        .copied()
        .collect();
    out.sort_by(|a, b| a.on.total_cmp(&b.on));
    out
}

#[test]
fn a_crossfade_keeps_the_old_music_going_under_the_new_on_the_other_deck() {
    let mut host = host(fades(), "one");
    host.run(1.0, 0.02);
    host.director
        .set_state("two")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(4.0, 0.02);
    let audible = host.director.audible(0.0, 6.0);
    // "one" on deck 0 until 2 s (the next bar), fading out over 2 beats (1 s); "two" on
    // deck 1 from 2 s, fading in over the same second.
    let sections: Vec<_> = audible
        .sections
        .iter()
        .map(|s| {
            (
                s.deck, s.state, s.start, s.fade_in, s.end, s.fade_out, s.stop,
            )
        })
        .collect();
    assert_eq!(
        sections,
        [
            (0, "one", 0.0, 0.0, 2.0, 1.0, 3.0),
            (1, "two", 2.0, 1.0, f64::INFINITY, 0.0, f64::INFINITY)
        ]
    );
    let one = &audible.sections[0];
    assert!((one.gain(2.5, false) - std::f64::consts::FRAC_PI_4.cos()).abs() < 1e-9);
    assert_eq!(one.gain(3.0, false), 0.0);
    // The old phrase goes on past the cut (one note a beat) until its fade is over.
    let old = on_deck(&audible.notes, 0);
    let tail: Vec<f64> = old.iter().filter(|n| n.on >= 2.0).map(|n| n.on).collect();
    assert_eq!(tail, [2.0, 2.5]);
    assert!(old.iter().all(|n| n.off <= 3.0 + 1e-9));
    let new = on_deck(&audible.notes, 1);
    assert_eq!(new.first().map(|n| n.on), Some(2.0));
    // Keys are unique, and a narrower query gives the same notes, same keys, same times.
    let mut keys: Vec<_> = audible.notes.iter().map(|n| n.key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), audible.notes.len());
    let narrow = host.director.audible(2.2, 2.7);
    for n in &narrow.notes {
        assert!(audible.notes.contains(n), "{n:?}");
        assert!(n.on < 2.7 && n.off > 2.2);
    }
}

#[test]
fn a_crossfade_into_another_key_fades_the_old_music_in_the_new_scale() {
    // A major-key mood crossfades over 8 beats (4 s) into a minor one on the same tonic.
    let table = MoodTable::from_ron(
        r#"(moods: {
        "one": (words: ["explore"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
                intensity: 0.5, layers: [melody, bass], transition: next_bar),
        "dark": (mode: natural_minor, tempo_bpm: 120, density: 0.5, register: 0.5,
                 intensity: 0.5, layers: [melody, bass], transition: next_bar,
                 crossfade_beats: 8),
    })"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut host = host(table, "one");
    host.run(1.0, 0.02);
    // What "one" would play from the next bar (2 s) for the 4 s of the fade.
    let unchanged = on_deck(&host.director.audible(2.0, 6.0).notes, 0);
    host.director
        .set_state("dark")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(6.0, 0.02);
    let dark = host
        .director
        .current_phrase()
        .map(|p| p.key)
        .unwrap_or_else(|| panic!("nothing plays"));
    let tail: Vec<(f64, u8)> = on_deck(&host.director.audible(2.0, 6.0).notes, 0)
        .iter()
        .filter(|n| n.on >= 2.0)
        .map(|n| (n.on, n.pitch))
        .collect();
    // The same notes at the same times, each moved to the nearest note of the new scale;
    // some of them were not in it.
    let expected: Vec<(f64, u8)> = unchanged
        .iter()
        .filter(|n| n.on >= 2.0 && n.on < 6.0)
        .map(|n| (n.on, dark.snap(n.pitch)))
        .collect();
    assert_eq!(tail.len(), 16, "8 beats of melody and bass");
    assert_eq!(tail, expected);
    assert!(
        unchanged
            .iter()
            .any(|n| n.on >= 2.0 && !dark.contains_pitch(n.pitch)),
        "nothing to move in {dark}"
    );
}

#[test]
fn a_cut_ends_the_old_music_on_the_boundary() {
    let mut host = host(rules_table(), "explore");
    host.run(1.0, 0.02);
    host.director
        .set_state("next_bar")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(3.0, 0.02);
    let audible = host.director.audible(0.0, 4.0);
    assert_eq!(audible.sections[0].fade_out, 0.0);
    assert_eq!(audible.sections[0].stop, 2.0);
    assert!(on_deck(&audible.notes, 0).iter().all(|n| n.off <= 2.0));
    assert_eq!(on_deck(&audible.notes, 1).first().map(|n| n.on), Some(2.0));
    // Within one state the phrases share a deck, each note cut where its phrase ends.
    let mut host = host_two_phrases();
    host.run(10.0, 0.02);
    let audible = host.director.audible(7.0, 9.0);
    assert!(audible.notes.iter().all(|n| n.lane == Lane::Deck(0)));
    assert!(
        audible
            .notes
            .iter()
            .filter(|n| n.on < 8.0)
            .all(|n| n.off <= 8.0)
    );
}

fn host_two_phrases() -> Host {
    host(rules_table(), "explore")
}

#[test]
fn stingers_play_on_their_own_lane() {
    let mut host = host(rules_table(), "explore");
    host.run(1.2, 0.02);
    let id = host
        .director
        .stinger("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    host.run(2.0, 0.02);
    let audible = host.director.audible(0.0, 4.0);
    let stinger: Vec<_> = audible
        .notes
        .iter()
        .filter(|n| n.lane == Lane::Stinger)
        .collect();
    assert!(!stinger.is_empty());
    assert!(stinger.iter().all(|n| n.key.phrase == id));
    assert_eq!(
        stinger.iter().map(|n| n.on).fold(f64::INFINITY, f64::min),
        1.5,
        "from the next beat"
    );
}

#[test]
fn committed_music_never_changes_and_changes_land_after_it() {
    let mut host = host(rules_table(), "explore");
    host.run(1.0, 0.02);
    // A player has sent everything up to 2.6 s (tick 2496 at 120 bpm).
    host.director.commit(2496);
    let before = host.director.audible(0.0, 2.6).notes;
    host.director
        .set_state("immediate")
        .unwrap_or_else(|e| panic!("{e}"));
    let due = host
        .director
        .pending_job()
        .map(|(_, due)| due)
        .unwrap_or_default();
    assert_eq!(
        due, 2496,
        "an immediate change lands where the sent music ends"
    );
    host.serve();
    let after = host.director.audible(0.0, 2.6).notes;
    assert_eq!(before.len(), after.len());
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(
            (a.key, a.on, a.lane),
            (b.key, b.on, b.lane),
            "a sent note moved"
        );
    }
    // A stinger lands on the first beat at or after the committed music (the new phrase's
    // first beat).
    host.director
        .stinger("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    let job = host.director.poll_job().unwrap_or_else(|| panic!("no job"));
    assert_eq!(job.due_tick, 2496);
}

#[test]
fn committing_past_the_music_repeats_it_ahead() {
    let mut host = host(rules_table(), "explore");
    host.hold = true;
    host.run(6.0, 0.02);
    // The first phrase (8 s) ends at tick 7680 with its continuation still held; a
    // player that has sent up to 8.3 s needs music there: the phrase repeats.
    host.director.commit(7968);
    let audible = host.director.audible(8.0, 8.3);
    assert!(
        audible
            .notes
            .iter()
            .any(|n| n.on >= 8.0 && n.key.placed == 7680),
        "{:?}",
        audible.notes
    );
    // The late continuation lands where the repeat ends, and is reported late on its tick.
    host.hold = false;
    host.release();
    host.run(3.0, 0.02);
    assert_eq!(
        host.director
            .current_phrase()
            .map(|p| (p.start_tick, p.repeat)),
        Some((7680, 1))
    );
    assert_eq!(
        host.director
            .next_phrase()
            .map(|p| (p.start_tick, p.repeat)),
        Some((2 * 7680, 0))
    );
    assert!(host.events.iter().any(|e| matches!(
        e,
        leitmotif_director::DirectorEvent::PhraseLate { tick: 7680, .. }
    )));
}
