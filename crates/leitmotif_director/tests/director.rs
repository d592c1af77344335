//! The director's musical rules, with a fast stand-in composer: transitions land on their
//! boundaries, beats follow the tempo, intensity moves layers, late phrases never silence
//! the music, and mood tables reload.

pub mod common;

use common::{Host, default_table, director, rules_table, ticks};
use leitmotif_director::{DirectorError, DirectorEvent, DirectorSettings, JobKind};
use leitmotif_request::{Curve, MoodTable, Task};
use leitmotif_score::Role;
use leitmotif_score::time::Meter;
use leitmotif_tokens::Layer;

const SIX_EIGHT: Meter = Meter {
    numerator: 6,
    denominator: 8,
};

fn settings(state: &str, meter: Meter) -> DirectorSettings {
    DirectorSettings {
        initial_state: state.to_owned(),
        meter,
        ..DirectorSettings::default()
    }
}

fn is_beat(e: &DirectorEvent) -> bool {
    matches!(e, DirectorEvent::Beat { .. })
}

fn is_bar(e: &DirectorEvent) -> bool {
    matches!(e, DirectorEvent::Bar { .. })
}

fn is_transition(e: &DirectorEvent) -> bool {
    matches!(e, DirectorEvent::TransitionDone { .. })
}

fn is_late(e: &DirectorEvent) -> bool {
    matches!(e, DirectorEvent::PhraseLate { .. })
}

#[test]
fn state_changes_land_on_the_boundary_their_rule_names() {
    // At 120 bpm there are 960 ticks a second. 4/4 at 4.3 s: tick 4128, bar 3 (0-based
    // bar 2), a beat is 480 ticks and a bar 1920. 6/8 at 4.1 s: tick 3936, bar 3, a beat
    // (an eighth) is 240 ticks and a bar 1440. bars(2) waits for an even 0-based bar.
    let cases = [
        (
            Meter::COMMON,
            4.3,
            4128,
            [
                ("immediate", 4128),
                ("next_beat", 4320),
                ("next_bar", 5760),
                ("bars_2", 7680),
            ],
        ),
        (
            SIX_EIGHT,
            4.1,
            3936,
            [
                ("immediate", 3936),
                ("next_beat", 4080),
                ("next_bar", 4320),
                ("bars_2", 5760),
            ],
        ),
    ];
    for (meter, at, now, rules) in cases {
        for (state, boundary) in rules {
            let context = format!("{meter} {state}");
            let mut host = Host::new(director(settings("explore", meter), rules_table()));
            host.run(at, at);
            assert_eq!(host.director.tick(), now, "{context}");
            host.director
                .set_state(state)
                .unwrap_or_else(|e| panic!("{e}"));
            host.serve();
            let job = host.last_job().clone();
            assert_eq!(job.kind, JobKind::Change, "{context}");
            assert_eq!(job.due_tick, boundary, "{context}");
            assert_eq!(job.state, state, "{context}");
            assert_eq!(job.request.tempo_bpm, Some(120.0), "{context}");
            assert_eq!(
                job.request.meter,
                Some((meter.numerator, meter.denominator)),
                "{context}"
            );
            let Task::Continue { primer } = &job.request.task else {
                panic!("{context}: a state change continues the music");
            };
            // Four primer bars reach back to tick 0 here; the primer ends on the boundary.
            assert_eq!(primer.end_tick, boundary, "{context}");
            assert!(primer.note_count() > 0, "{context}");
            let events = host.run(6.0, 1.0 / 60.0);
            assert_eq!(ticks(&events, is_transition), [boundary], "{context}");
            assert!(
                events.contains(&DirectorEvent::TransitionDone {
                    from: "explore".to_owned(),
                    to: state.to_owned(),
                    bar: host.director.clock().position(boundary).bar,
                    tick: boundary,
                    crossfade_beats: host
                        .director
                        .table()
                        .lookup(state)
                        .map_or(-1.0, |(_, m)| m.crossfade_beats),
                })
            );
            // The old music (melody and bass) stops at the boundary: no bass note starts at
            // or rings past it; the new phrase (melody only or with chords) starts there.
            let session = host.director.session_score();
            let bass = session.tracks.iter().find(|t| t.role == Role::Bass);
            let bass = bass.unwrap_or_else(|| panic!("{context}: no bass"));
            assert!(bass.notes.iter().all(|n| n.end() <= boundary), "{context}");
            let melody = session.tracks.iter().find(|t| t.role == Role::Melody);
            let melody = melody.unwrap_or_else(|| panic!("{context}: no melody"));
            assert!(
                melody.notes.iter().any(|n| n.start == boundary),
                "{context}"
            );
            let markers: Vec<_> = session
                .markers
                .iter()
                .map(|m| (m.tick, m.text.as_str()))
                .collect();
            assert_eq!(markers, [(0, "explore"), (boundary, state)], "{context}");
            assert_eq!(host.director.state(), state, "{context}");
        }
    }
}

#[test]
fn beats_and_bars_follow_the_tempo_and_meter() {
    for (meter, beats, per_bar) in [(Meter::COMMON, 20u64, 4u32), (SIX_EIGHT, 40, 6)] {
        let beat_ticks = meter.ticks_per_beat(480);
        // Frame by frame, and in one large step: the same beats, in order.
        for step in [1.0 / 60.0, 10.0] {
            let mut host = Host::new(director(settings("explore", meter), rules_table()));
            let events = host.run(10.0, step);
            let beat_events: Vec<_> = events.iter().filter(|e| is_beat(e)).collect();
            assert_eq!(beat_events.len() as u64, beats, "{meter} step {step}");
            for (k, e) in beat_events.iter().enumerate() {
                let k = k as u64;
                let expected = DirectorEvent::Beat {
                    bar: k / u64::from(per_bar) + 1,
                    beat: (k % u64::from(per_bar)) as u32 + 1,
                    bpm: 120.0,
                    meter,
                    tick: k * beat_ticks,
                };
                assert_eq!(**e, expected, "{meter} step {step}");
            }
            let bars = ticks(&events, is_bar);
            let bar_ticks = meter.ticks_per_bar(480);
            let expected: Vec<u64> = (0..)
                .map(|b| b * bar_ticks)
                .take_while(|t| *t < 9600)
                .collect();
            assert_eq!(bars, expected, "{meter} step {step}");
            assert!(ticks(&events, is_late).is_empty());
        }
    }
    // 150 bpm: 25 beats in 10 s.
    let mut host = Host::new(director(settings("chase", Meter::COMMON), rules_table()));
    let events = host.run(10.0, 0.1);
    assert_eq!(ticks(&events, is_beat).len(), 25);
}

#[test]
fn intensity_brings_layers_in_and_out() {
    let mut s = settings("combat", Meter::COMMON);
    s.initial_intensity = 0.1;
    let mut host = Host::new(director(s, default_table()));
    // Phrases carry every layer of the mood whatever the intensity: a layer comes in or
    // leaves in the middle of a phrase on the player's gain lanes. What is heard follows
    // the smoothed intensity.
    let all = [Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums];
    assert_eq!(host.last_job().request.layers, all);
    assert_eq!(host.director.active_layers(), [Layer::Melody]);
    assert_eq!(host.director.target_mood(), "exciting");
    host.director.set_intensity(1.0);
    host.run(0.1, 0.1);
    let smoothed = host.director.intensity();
    assert!(
        smoothed > 0.1 && smoothed < 0.2,
        "smoothed, not jumped: {smoothed}"
    );
    // The next phrase is asked for about 2 bars + 1 s before the first ends (6.9 s).
    host.run(3.5, 1.0 / 60.0);
    let job = host.last_job().clone();
    assert_eq!(job.kind, JobKind::Continue);
    assert_eq!(job.request.layers, all);
    let Curve::Ramp { from, to } = job.request.intensity else {
        panic!("intensity ramps toward the target");
    };
    assert!(
        from > 0.5 && from < 1.0 && (to - 1.0).abs() < 1e-12,
        "{from} {to}"
    );
    host.run(4.0, 1.0 / 60.0);
    assert!(host.director.active_layers().contains(&Layer::Drums));
    host.director.set_intensity(0.0);
    host.run(10.0, 1.0 / 60.0);
    assert_eq!(host.last_job().request.layers, all);
    host.run(4.0, 1.0 / 60.0);
    assert_eq!(host.director.active_layers(), [Layer::Melody]);
}

#[test]
fn a_late_phrase_repeats_the_music_and_lands_on_the_next_boundary() {
    // Continuation late: the first phrase (8 s, 7680 ticks) repeats; the late phrase lands
    // where the repeat ends.
    let mut host = Host::new(director(settings("explore", Meter::COMMON), rules_table()));
    host.hold = true;
    let events = host.run(12.0, 0.05);
    let cont = host
        .held
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no job held"));
    assert_eq!((cont.kind, cont.due_tick), (JobKind::Continue, 7680));
    assert_eq!(ticks(&events, is_late), [7680]);
    assert!(events.contains(&DirectorEvent::PhraseStarted {
        state: "explore".to_owned(),
        bar: 5,
        id: 1,
        repeat: 1,
        tick: 7680,
    }));
    let beats = ticks(&events, is_beat);
    assert_eq!(
        beats,
        (0..24).map(|k| k * 480).collect::<Vec<_>>(),
        "no beat missed"
    );
    // The repeat plays the first phrase's notes again.
    let session = host.director.session_score();
    for track in &session.tracks {
        let first: Vec<_> = track.notes.iter().filter(|n| n.start < 7680).collect();
        let again: Vec<_> = track.notes.iter().filter(|n| n.start >= 7680).collect();
        assert!(!first.is_empty() && again.len() * 2 >= first.len());
        for (a, b) in first.iter().zip(&again) {
            assert_eq!((a.start + 7680, a.pitch), (b.start, b.pitch));
        }
    }
    host.hold = false;
    host.release();
    let next = host
        .director
        .next_phrase()
        .unwrap_or_else(|| panic!("not placed"));
    assert_eq!((next.id, next.start_tick, next.repeat), (cont.id, 15360, 0));
    let events = host.run(5.0, 0.05);
    assert!(events.iter().any(|e| matches!(e,
        DirectorEvent::PhraseStarted { id, tick: 15360, repeat: 0, .. } if *id == cont.id)));

    // State change late: due on the next bar (3840), delivered at 5 s (4800), it lands on
    // the next bar line after delivery (5760); the old music plays on meanwhile.
    let mut host = Host::new(director(settings("explore", Meter::COMMON), rules_table()));
    host.run(2.5, 0.05);
    host.hold = true;
    host.director
        .set_state("next_bar")
        .unwrap_or_else(|e| panic!("{e}"));
    let events = host.run(2.5, 0.05);
    assert_eq!(host.held.len(), 1);
    assert_eq!(host.held[0].due_tick, 3840);
    assert_eq!(ticks(&events, is_late), [3840]);
    assert!(ticks(&events, is_transition).is_empty());
    assert_eq!(host.director.state(), "explore");
    assert_eq!(host.director.target_state(), "next_bar");
    assert_eq!(
        ticks(&events, is_beat),
        [2400, 2880, 3360, 3840, 4320],
        "beats go on"
    );
    assert!((4799..=4800).contains(&host.director.tick()));
    host.hold = false;
    host.release();
    let events = host.run(2.0, 0.05);
    assert_eq!(ticks(&events, is_transition), [5760]);
    let markers: Vec<_> = host
        .director
        .session_score()
        .markers
        .into_iter()
        .map(|m| (m.tick, m.text))
        .collect();
    assert_eq!(
        markers,
        [(0, "explore".to_owned()), (5760, "next_bar".to_owned())]
    );
}

#[test]
fn music_never_stops_when_no_phrase_comes() {
    // A host that never delivers after the first phrase: the phrase loops for a minute.
    let mut host = Host::new(director(settings("explore", Meter::COMMON), rules_table()));
    host.hold = true;
    let events = host.run(60.0, 0.25);
    assert_eq!(ticks(&events, is_beat).len(), 120);
    let session = host.director.session_score();
    assert_eq!(session.end_tick, 57600);
    let last_start = session
        .tracks
        .iter()
        .flat_map(|t| t.notes.iter().map(|n| n.start))
        .max();
    assert_eq!(last_start, Some(57600 - 480));
    assert_eq!(
        host.held.len(),
        1,
        "one continuation asked for, and waited on"
    );
}

#[test]
fn hot_reload_changes_later_phrases() {
    let mut host = Host::new(director(settings("explore", Meter::COMMON), rules_table()));
    host.run(1.0, 0.1);
    let slower = common::RULES_RON.replacen(
        r#"(words: ["explore"], mode: major, tempo_bpm: 120"#,
        r#"(words: ["explore"], mode: major, tempo_bpm: 90"#,
        1,
    );
    assert_ne!(slower, common::RULES_RON);
    let table = MoodTable::from_ron(&slower).unwrap_or_else(|e| panic!("{e}"));
    host.director
        .set_table(table)
        .unwrap_or_else(|e| panic!("{e}"));
    // The scheduled phrase keeps its tempo; the next is asked for at 90 bpm.
    assert!((host.director.clock().segment_at(0).bpm - 120.0).abs() < 1e-9);
    let events = host.run(8.0, 0.1);
    let job = host.last_job();
    assert_eq!(
        (job.kind, job.request.tempo_bpm),
        (JobKind::Continue, Some(90.0))
    );
    let bpms: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            DirectorEvent::Beat { bpm, tick, .. } if *tick >= 7680 => Some(*bpm),
            _ => None,
        })
        .collect();
    assert!(!bpms.is_empty() && bpms.iter().all(|b| (b - 90.0).abs() < 1e-9));
    // A table without the current state is refused and the old one kept.
    let without = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::new(director(settings("next_bar", Meter::COMMON), rules_table()));
    let error = host.director.set_table(without);
    assert!(
        matches!(error, Err(DirectorError::UnknownState { ref name, .. }) if name == "next_bar")
    );
    assert_eq!(host.director.table(), &rules_table());
    host.run(1.0, 0.1);
}

#[test]
fn unknown_states_are_refused_by_name() {
    let mut d = director(settings("explore", Meter::COMMON), default_table());
    let error = d.set_state("disco").err();
    assert!(matches!(&error, Some(DirectorError::UnknownState { name, .. }) if name == "disco"));
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("\"disco\"") && message.contains("pastoral"),
        "{message}"
    );
    let bad = DirectorSettings {
        initial_state: "nowhere".to_owned(),
        ..DirectorSettings::default()
    };
    assert!(leitmotif_director::Director::new(bad, default_table()).is_err());
    // Words resolve to their mood; a word of the same mood changes nothing.
    d.set_state("combat").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.target_mood(), "exciting");
    d.set_state("fight").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.target_state(), "combat");
}

#[test]
fn stingers_play_over_the_music_from_the_next_beat() {
    let mut host = Host::new(director(settings("explore", Meter::COMMON), rules_table()));
    host.run(3.3, 0.1);
    let now = host.director.tick();
    let id = host
        .director
        .stinger("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    let job = host.jobs.iter().find(|j| j.id == id).cloned();
    let job = job.unwrap_or_else(|| panic!("no stinger job"));
    let due = now.div_ceil(480) * 480;
    assert_eq!(
        (job.kind, job.due_tick, job.request.bars),
        (JobKind::Stinger, due, 1)
    );
    assert_eq!(
        job.request.tempo_bpm,
        Some(120.0),
        "the music's tempo, not the mood's"
    );
    let playing = host.director.current_phrase().map(|p| p.key);
    assert!(playing.is_some());
    assert_eq!(job.request.key, playing, "the key playing, not the mood's");
    let events = host.run(3.0, 0.1);
    assert!(events.iter().any(
        |e| matches!(e, DirectorEvent::StingerStarted { tick, id: i, .. } if *tick == due && *i == id)
    ));
    assert_eq!(
        host.director.state(),
        "explore",
        "a stinger changes no state"
    );
    let session = host.director.session_score();
    let stinger = session.tracks.iter().find(|t| t.name == "Stinger");
    let stinger = stinger.unwrap_or_else(|| panic!("no stinger track"));
    assert_eq!(stinger.notes.first().map(|n| n.start), Some(due));
    assert_eq!(stinger.notes.len(), 4, "one bar");
}

#[test]
fn failed_and_stale_jobs() {
    let mut host = Host::new(director(settings("explore", Meter::COMMON), rules_table()));
    host.run(1.0, 0.1);
    host.hold = true;
    host.director
        .set_state("next_bar")
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    let first = host.held.remove(0);
    host.director.fail(first.id, "out of memory");
    host.serve();
    let retry = host.held.remove(0);
    assert_eq!(
        (retry.kind, retry.due_tick),
        (JobKind::Change, first.due_tick)
    );
    assert_ne!(retry.id, first.id);
    assert_ne!(retry.request.seed, first.request.seed, "a new seed per job");
    // A state change replaces the pending job; its phrase is then stale and ignored.
    host.director
        .set_state("next_beat")
        .unwrap_or_else(|e| panic!("{e}"));
    let stale = common::fake_compose(&retry.request);
    assert_eq!(host.director.deliver(retry.id, stale).ok(), Some(false));
    let events = host.run(0.1, 0.1);
    assert!(events.iter().any(
        |e| matches!(e, DirectorEvent::PhraseFailed { id, message, .. } if *id == first.id && message == "out of memory")
    ));
    host.hold = false;
    host.release();
    let events = host.run(2.0, 0.1);
    assert_eq!(ticks(&events, is_transition).len(), 1);
    assert_eq!(host.director.state(), "next_beat");
}

#[test]
fn locks_override_the_mood() {
    let mut host = Host::new(director(
        settings("explore", Meter::COMMON),
        default_table(),
    ));
    let key = "D dorian".parse().unwrap_or_else(|e| panic!("{e:?}"));
    host.director.lock_key(Some(key));
    host.director
        .lock_tempo(Some(100.0))
        .unwrap_or_else(|e| panic!("{e}"));
    host.director
        .lock_meter(Some(Meter {
            numerator: 3,
            denominator: 4,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(host.director.lock_tempo(Some(0.0)).is_err());
    assert!(
        host.director
            .lock_meter(Some(Meter {
                numerator: 7,
                denominator: 16
            }))
            .is_err()
    );
    host.director
        .set_state("boss")
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    let job = host.last_job();
    assert_eq!(job.request.key, Some(key));
    assert_eq!(job.request.tempo_bpm, Some(100.0));
    assert_eq!(job.request.meter, Some((3, 4)));
}

#[test]
fn a_mood_chords_and_feel_reach_its_phrases_and_a_lock_overrides_them() {
    let text = common::RULES_RON.replacen(
        r#"(words: ["explore"], mode: major, tempo_bpm: 120"#,
        r#"(words: ["explore"], chords: "C Am F G", humanize: 0.3, mode: major, tempo_bpm: 120"#,
        1,
    );
    assert_ne!(text, common::RULES_RON);
    let table = MoodTable::from_ron(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::new(director(settings("explore", Meter::COMMON), table));
    host.run(0.5, 0.1);
    let job = host.last_job();
    let names = |chords: &[leitmotif_score::theory::Chord]| -> Vec<String> {
        chords.iter().map(ToString::to_string).collect()
    };
    assert_eq!(names(&job.request.chords), ["C", "Am", "F", "G"]);
    assert!((job.request.humanize - 0.3).abs() < 1e-12);

    let locked =
        leitmotif_request::request::parse_chords("Dm G7").unwrap_or_else(|e| panic!("{e}"));
    assert!(host.director.lock_chords(Some(Vec::new())).is_err());
    host.director
        .lock_chords(Some(locked))
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(8.0, 0.1);
    assert_eq!(names(&host.last_job().request.chords), ["Dm", "G7"]);
    host.director
        .lock_chords(None)
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(8.0, 0.1);
    assert_eq!(
        names(&host.last_job().request.chords),
        ["C", "Am", "F", "G"]
    );
}

#[test]
fn drafts_per_phrase_come_from_the_settings_and_absurd_counts_are_refused() {
    let mut host = Host::new(director(
        DirectorSettings {
            drafts: 3,
            ..settings("explore", Meter::COMMON)
        },
        default_table(),
    ));
    host.run(0.5, 0.1);
    assert_eq!(host.last_job().request.drafts, 3);
    for drafts in [0, 17] {
        let e = leitmotif_director::Director::new(
            DirectorSettings {
                drafts,
                ..settings("explore", Meter::COMMON)
            },
            default_table(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("drafts"), "{drafts}: {e}");
    }
}
