//! Music the game supplies: fixed cues placed on their boundary and continued by the
//! generated music, and themes the next phrase develops.

pub mod common;

use common::{Host, director, rules_table};
use leitmotif_director::{DirectorError, DirectorEvent, DirectorSettings, JobKind};
use leitmotif_request::{Task, Transition};
use leitmotif_score::{Note, Role, Score, TempoChange, TimeSignatureChange, Track};

/// Two bars of 3/4 at 90 bpm, written at 96 PPQ: a rising line on a melody track and a
/// held low note on a track of no known role.
fn fanfare() -> Score {
    let mut score = Score::new(96);
    score.tempos = vec![TempoChange::from_bpm(0, 90.0).unwrap_or_else(|e| panic!("{e}"))];
    score.time_signatures = vec![TimeSignatureChange {
        tick: 0,
        numerator: 3,
        denominator: 4,
    }];
    let mut lead = Track::new("Lead", Role::Melody, 56, 0);
    for (k, pitch) in [67u8, 69, 71, 72, 74, 76].into_iter().enumerate() {
        lead.notes.push(Note {
            start: k as u64 * 96,
            duration: 96,
            pitch,
            velocity: 100,
        });
    }
    let mut drone = Track::new("Horn", Role::Other, 60, 1);
    drone.notes.push(Note {
        start: 0,
        duration: 96 * 6,
        pitch: 48,
        velocity: 80,
    });
    score.tracks = vec![lead, drone];
    score.end_tick = 96 * 6;
    score
}

fn settings() -> DirectorSettings {
    DirectorSettings {
        initial_state: "explore".to_owned(),
        ..DirectorSettings::default()
    }
}

#[test]
fn a_cue_lands_on_its_boundary_and_the_music_continues_from_it() {
    // 120 bpm, 4/4: at 2.5 s (tick 2400) the next bar line is 3840.
    let mut host = Host::new(director(settings(), rules_table()));
    host.run(2.5, 0.05);
    let id = host
        .director
        .play_cue("fanfare", &fanfare(), Transition::NextBar)
        .unwrap_or_else(|e| panic!("{e}"));
    let events = host.run(12.0, 0.05);
    assert!(events.contains(&DirectorEvent::PhraseStarted {
        state: "fanfare".to_owned(),
        bar: 3,
        id,
        repeat: 0,
        tick: 3840,
    }));

    // The cue plays at its own tempo and meter: two bars of 3/4 (2 × 1440 ticks) at 90 bpm.
    let bars: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            DirectorEvent::Bar { bar, tick, .. } => Some((*bar, *tick)),
            _ => None,
        })
        .collect();
    assert!(bars.contains(&(3, 3840)) && bars.contains(&(4, 5280)) && bars.contains(&(5, 6720)));
    let beats: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            DirectorEvent::Beat { tick, bpm, .. } if (3840..6720).contains(tick) => {
                Some((*tick, *bpm))
            }
            _ => None,
        })
        .collect();
    assert_eq!(beats.len(), 6);
    assert!(beats.iter().all(|(_, bpm)| (*bpm - 90.0).abs() < 1e-3));

    // Its notes are in the session, rescaled to the session's resolution; the horn (no
    // known role) became the melody's accompaniment on the chords track.
    let session = host.director.session_score();
    let melody = session
        .tracks
        .iter()
        .find(|t| t.role == Role::Melody)
        .unwrap_or_else(|| panic!("no melody"));
    let cue: Vec<_> = melody
        .notes
        .iter()
        .filter(|n| (3840..6720).contains(&n.start))
        .map(|n| (n.start, n.duration, n.pitch))
        .collect();
    let want: Vec<_> = [67u8, 69, 71, 72, 74, 76]
        .into_iter()
        .enumerate()
        .map(|(k, p)| (3840 + k as u64 * 480, 480, p))
        .collect();
    assert_eq!(cue, want);
    let chords = session
        .tracks
        .iter()
        .find(|t| t.role == Role::Chords)
        .unwrap_or_else(|| panic!("no chords"));
    assert!(
        chords
            .notes
            .iter()
            .any(|n| n.start == 3840 && n.pitch == 48 && n.duration == 2880)
    );
    let markers: Vec<_> = session
        .markers
        .iter()
        .map(|m| (m.tick, m.text.as_str()))
        .collect();
    assert_eq!(
        &markers[..3],
        [(0, "explore"), (3840, "fanfare"), (6720, "explore")]
    );

    // The phrase after it continues from it: its primer ends with the cue's last notes.
    let next = host
        .jobs
        .iter()
        .find(|j| j.due_tick == 6720)
        .unwrap_or_else(|| panic!("no phrase after the cue"));
    assert_eq!(next.kind, JobKind::Continue);
    let Task::Continue { primer } = &next.request.task else {
        panic!("not a continuation");
    };
    let tail: Vec<u8> = primer
        .tracks
        .iter()
        .find(|t| t.role == Role::Melody)
        .map(|t| t.notes.iter().rev().take(3).map(|n| n.pitch).collect())
        .unwrap_or_default();
    assert_eq!(tail, [76, 74, 72]);
}

#[test]
fn a_cue_can_open_the_session() {
    let mut d = director(settings(), rules_table());
    d.play_cue("title", &fanfare(), Transition::Immediate)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::new(d);
    assert!(host.jobs.iter().all(|j| j.kind != JobKind::First));
    let events = host.run(1.0, 0.05);
    assert!(events.iter().any(|e| matches!(e,
        DirectorEvent::PhraseStarted { state, tick: 0, .. } if state == "title")));
    assert_eq!(host.director.state(), "title");
}

#[test]
fn bad_cues_are_refused_and_change_nothing() {
    let mut host = Host::new(director(settings(), rules_table()));
    host.run(1.0, 0.05);
    let before = host.director.session_score();

    let mut empty = fanfare();
    for track in &mut empty.tracks {
        track.notes.clear();
    }
    let mut two_tempi = fanfare();
    two_tempi
        .tempos
        .push(TempoChange::from_bpm(96 * 3, 140.0).unwrap_or_else(|e| panic!("{e}")));
    let mut two_meters = fanfare();
    two_meters.time_signatures.push(TimeSignatureChange {
        tick: 96 * 3,
        numerator: 4,
        denominator: 4,
    });
    let mut odd_meter = fanfare();
    odd_meter.time_signatures[0].numerator = 11;
    odd_meter.time_signatures[0].denominator = 16;
    let mut broken = fanfare();
    broken.tracks[0].notes[0].pitch = 200;

    for (score, words) in [
        (empty, "no notes"),
        (two_tempi, "tempo"),
        (two_meters, "meter"),
        (odd_meter, "11/16"),
        (broken, "not a valid score"),
    ] {
        let err = host
            .director
            .play_cue("bad", &score, Transition::NextBar)
            .err()
            .unwrap_or_else(|| panic!("{words}: accepted"));
        assert!(
            matches!(
                err,
                DirectorError::InvalidPhrase { .. } | DirectorError::Invalid { .. }
            ) && err.to_string().contains(words),
            "{words}: {err}"
        );
    }
    host.run(1.0, 0.05);
    let after = host.director.session_score();
    assert_eq!(before.markers, after.markers);
    assert!(
        host.events
            .iter()
            .all(|e| !matches!(e, DirectorEvent::PhraseStarted { state, .. } if state == "bad"))
    );
}

#[test]
fn a_theme_primes_the_next_phrase_until_one_made_from_it_arrives() {
    // The fake composer works at the session's resolution, as the real one does inside.
    let theme = fanfare().at_resolution(480).into_owned();
    let mut d = director(settings(), rules_table());
    let first = d.poll_job().unwrap_or_else(|| panic!("no first job"));
    assert_eq!(first.request.task, Task::New);

    // Priming while the first phrase is composing asks for it again, from the theme.
    d.prime(Some(theme.clone()))
        .unwrap_or_else(|e| panic!("{e}"));
    let again = d.poll_job().unwrap_or_else(|| panic!("not asked again"));
    assert_eq!(again.kind, JobKind::First);
    assert_ne!(again.id, first.id);
    assert_eq!(again.request.task, Task::Continue { primer: theme });
    let mut host = Host::new(d);
    host.deliver(&again);
    assert!(
        !host
            .director
            .deliver(first.id, common::fake_compose(&first.request))
            .unwrap_or_else(|e| panic!("{e}")),
        "the unprimed phrase is stale"
    );

    // Once the primed phrase arrived, later phrases continue the music again (or, as the
    // state's form plans, vary it: an infill of the phrase made from the theme).
    host.run(8.0, 0.05);
    let later = host.last_job();
    assert_eq!(later.kind, JobKind::Continue);
    let (Task::Continue { primer } | Task::Infill { score: primer, .. }) = &later.request.task
    else {
        panic!("neither a continuation nor a variation");
    };
    assert!(primer.tracks.iter().all(|t| t.name != "Lead"));
    assert_eq!(primer.tempos[0].bpm().round(), 120.0);

    // Bad themes are refused by name.
    let mut silent = fanfare();
    silent.tracks.clear();
    let err = host
        .director
        .prime(Some(silent))
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(err.to_string().contains("theme"), "{err}");
}

/// [`fanfare`]'s melody alone, in G major by its key signature.
fn bare_fanfare() -> Score {
    let mut score = fanfare();
    score.tracks.truncate(1);
    score.key_signatures = vec![leitmotif_score::KeySignatureChange {
        tick: 0,
        sharps: 1,
        minor: false,
    }];
    score
}

#[test]
fn a_cue_is_harmonized_with_the_moods_layers_its_melody_kept() {
    // "base" writes melody and bass; "pair" melody and chords.
    let host = Host::new(director(DirectorSettings::default(), rules_table()));
    let cue = bare_fanfare();
    let done = host
        .director
        .harmonized(&cue)
        .unwrap_or_else(|e| panic!("{e}"));
    let roles: Vec<Role> = done.tracks.iter().map(|t| t.role).collect();
    assert_eq!(roles, [Role::Melody, Role::Bass]);
    assert_eq!(done.tracks[0].notes, cue.tracks[0].notes);
    // In G major (the signature): the bass plays G-major triad roots, starting on G.
    let bass = &done.tracks[1].notes;
    assert!(!bass.is_empty());
    assert_eq!(bass[0].pitch % 12, 7);
    assert!(
        bass.iter()
            .all(|n| [7, 0, 2, 4, 9, 11].contains(&(n.pitch % 12)))
    );
    // The director plays it like any cue.
    let mut host = host;
    host.director
        .play_cue("fanfare", &done, Transition::Immediate)
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(1.0, 0.05);
    let session = host.director.session_score();
    assert!(
        session
            .tracks
            .iter()
            .any(|t| t.role == Role::Bass && !t.notes.is_empty())
    );

    // A mood's chords; a layer the cue has already is kept as it is, not written again.
    let mut host = Host::new(director(DirectorSettings::default(), rules_table()));
    host.director
        .set_state("bars_2")
        .unwrap_or_else(|e| panic!("{e}"));
    let chords = host
        .director
        .harmonized(&cue)
        .unwrap_or_else(|e| panic!("{e}"));
    let roles: Vec<Role> = chords.tracks.iter().map(|t| t.role).collect();
    assert_eq!(roles, [Role::Melody, Role::Chords]);
    let again = host
        .director
        .harmonized(&chords)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, chords);

    // No melody: refused by name.
    let mut drums_only = Score::new(96);
    let mut kit = Track::new("Kit", Role::Drums, 0, 9);
    kit.notes.push(Note {
        start: 0,
        duration: 48,
        pitch: 36,
        velocity: 90,
    });
    drums_only.tracks.push(kit);
    drums_only.end_tick = 96 * 4;
    match host.director.harmonized(&drums_only) {
        Err(DirectorError::Invalid { what, reason }) => {
            assert_eq!(what, "cue");
            assert!(reason.contains("no melody track"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
