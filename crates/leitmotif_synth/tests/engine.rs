//! The engine's contract: exact-frame events, queue rules, gain lanes, voice limits.

mod common;

use common::{mono, rms};
use leitmotif_synth::{BuiltIn, Engine, EngineSettings, Event, Instrument, Scheduled, SynthError};

fn engine(instruments: &[BuiltIn]) -> Engine {
    Engine::new(
        EngineSettings::default(),
        instruments
            .iter()
            .map(|&b| Instrument::BuiltIn(b))
            .collect(),
    )
    .unwrap()
}

fn note_on(frame: u64, bus: u16, key: u8) -> Scheduled {
    Scheduled {
        frame,
        event: Event::NoteOn {
            bus,
            key,
            velocity: 100,
        },
    }
}

fn note_off(frame: u64, bus: u16, key: u8) -> Scheduled {
    Scheduled {
        frame,
        event: Event::NoteOff { bus, key },
    }
}

/// Renders `frames` frames in awkward block sizes, as an audio callback might.
fn render(engine: &mut Engine, frames: usize) -> Vec<[f32; 2]> {
    let mut out = vec![[0.0; 2]; frames];
    let sizes = [1, 97, 256, 13, 512, 300];
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at == frames {
            break;
        }
        let end = (at + size).min(frames);
        engine.render(&mut out[at..end]);
        at = end;
    }
    out
}

#[test]
fn every_built_in_note_starts_on_its_exact_frame() {
    for instrument in BuiltIn::ALL {
        let key = if instrument == BuiltIn::Drums { 38 } else { 64 };
        let start = 12_345;
        let mut a = engine(&[instrument]);
        a.schedule(note_on(start, 0, key)).unwrap();
        let out = render(&mut a, 30_000);
        let before = out[..start as usize]
            .iter()
            .fold(0.0f32, |m, f| m.max(f[0].abs()).max(f[1].abs()));
        assert!(before < 1e-9, "{instrument}: {before:e} before the note");
        let first = out[start as usize..start as usize + 3]
            .iter()
            .fold(0.0f32, |m, f| m.max(f[0].abs()).max(f[1].abs()));
        assert!(
            first > 1e-7,
            "{instrument}: silent on the note's first frames"
        );
        // The same note seven frames later sounds the same, seven frames later.
        let mut b = engine(&[instrument]);
        b.schedule(note_on(start + 7, 0, key)).unwrap();
        let shifted = render(&mut b, 30_007);
        let worst = out
            .iter()
            .zip(&shifted[7..])
            .map(|(x, y)| (x[0] - y[0]).abs().max((x[1] - y[1]).abs()))
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-6,
            "{instrument}: differs by {worst} when shifted"
        );
    }
}

#[test]
fn late_events_play_at_the_start_of_the_next_render() {
    let mut engine = engine(&[BuiltIn::Keys]);
    render(&mut engine, 1000);
    engine.schedule(note_on(10, 0, 60)).unwrap();
    let out = render(&mut engine, 100);
    assert!(out[0][0].abs() + out[1][0].abs() > 0.0);
    assert_eq!(engine.frame(), 1100);
}

#[test]
fn a_note_off_goes_before_a_note_on_of_the_same_key_at_one_frame() {
    let mut engine = engine(&[BuiltIn::Lead]);
    engine.schedule(note_on(0, 0, 60)).unwrap();
    // Queued on-then-off for the repeated note: the engine still plays off-then-on.
    engine.schedule(note_on(4800, 0, 60)).unwrap();
    engine.schedule(note_off(4800, 0, 60)).unwrap();
    render(&mut engine, 48_000 * 2);
    assert_eq!(engine.active_voices(), 1, "the repeated note is still held");
    engine.schedule(note_off(engine.frame(), 0, 60)).unwrap();
    render(&mut engine, 48_000);
    assert_eq!(engine.active_voices(), 0);
}

#[test]
fn queue_is_bounded_and_rejects_unknown_buses() {
    let settings = EngineSettings {
        event_capacity: 3,
        ..EngineSettings::default()
    };
    let mut engine = Engine::new(settings, vec![Instrument::BuiltIn(BuiltIn::Lead)]).unwrap();
    for frame in [30, 10, 20] {
        engine.schedule(note_on(frame, 0, 60)).unwrap();
    }
    let extra = note_on(40, 0, 62);
    assert_eq!(engine.schedule(extra), Err(extra));
    render(&mut engine, 100);
    assert_eq!(engine.queued(), 0);
    let wrong_bus = note_on(200, 1, 60);
    assert_eq!(engine.schedule(wrong_bus), Err(wrong_bus));
}

#[test]
fn cancel_from_drops_later_bus_events_but_keeps_master() {
    let mut engine = engine(&[BuiltIn::Keys, BuiltIn::Bass]);
    engine.schedule(note_on(100, 0, 60)).unwrap();
    engine.schedule(note_on(48_000, 0, 64)).unwrap();
    engine.schedule(note_on(48_000, 1, 40)).unwrap();
    let master = Scheduled {
        frame: 48_000,
        event: Event::Master {
            gain: 0.5,
            ramp_frames: 0,
        },
    };
    engine.schedule(master).unwrap();
    engine.cancel_from(24_000, 0..1);
    assert_eq!(engine.queued(), 3, "the bus-0 note at 1 s is gone");
    render(&mut engine, 48_000 + 10);
    assert_eq!(
        engine.active_voices(),
        2,
        "the first note and the bass play"
    );
}

#[test]
fn gain_lanes_ramp_linearly() {
    let mut engine = engine(&[BuiltIn::Pad]);
    engine.schedule(note_on(0, 0, 57)).unwrap();
    // Full level from 1 s, then down to 0 over one second from 2 s.
    engine
        .schedule(Scheduled {
            frame: 96_000,
            event: Event::Gain {
                bus: 0,
                gain: 0.0,
                ramp_frames: 48_000,
            },
        })
        .unwrap();
    let out = mono(&render(&mut engine, 48_000 * 6));
    let window = |s: f64| rms(&out[(s * 48_000.0) as usize..(s * 48_000.0) as usize + 4800]);
    let full = window(1.8);
    let half = window(2.45);
    assert!(
        (half / full - 0.5).abs() < 0.12,
        "halfway down the ramp the level is {:.2} of full",
        half / full
    );
    // The note is still held, but the bus is silent once the room's tail has decayed.
    assert!(window(5.5) < full * 1e-3);
    assert!(engine.active_voices() > 0);
}

#[test]
fn a_gain_jump_is_declicked() {
    let mut engine = engine(&[BuiltIn::Pad]);
    engine.schedule(note_on(0, 0, 57)).unwrap();
    engine
        .schedule(Scheduled {
            frame: 48_000,
            event: Event::Gain {
                bus: 0,
                gain: 0.0,
                ramp_frames: 0,
            },
        })
        .unwrap();
    let out = render(&mut engine, 48_100);
    // One frame after the jump the dry signal is still there (ramping down over 5 ms).
    let before = out[47_990..48_000]
        .iter()
        .map(|f| f[0].abs())
        .fold(0.0, f32::max);
    let after = out[48_001..48_011]
        .iter()
        .map(|f| f[0].abs())
        .fold(0.0, f32::max);
    assert!(after > before * 0.5, "jumped from {before} to {after}");
}

#[test]
fn voices_are_stolen_when_the_pool_is_full() {
    let settings = EngineSettings {
        max_voices: 4,
        ..EngineSettings::default()
    };
    let mut engine = Engine::new(settings, vec![Instrument::BuiltIn(BuiltIn::Keys)]).unwrap();
    for key in 40..60 {
        engine.schedule(note_on(100, 0, key)).unwrap();
    }
    let out = render(&mut engine, 100 + 48 * 10);
    assert_eq!(
        engine.active_voices(),
        4,
        "stolen voices have faded within 10 ms"
    );
    assert!(out.iter().all(|f| f[0].abs() < 1.0));
}

#[test]
fn all_notes_off_releases_every_note() {
    let mut engine = engine(&[BuiltIn::Pad]);
    for key in [48, 52, 55, 59] {
        engine.schedule(note_on(0, 0, key)).unwrap();
    }
    engine
        .schedule(Scheduled {
            frame: 24_000,
            event: Event::AllNotesOff { bus: 0 },
        })
        .unwrap();
    render(&mut engine, 24_010);
    assert_eq!(engine.active_voices(), 4, "releasing, not cut");
    render(&mut engine, 48_000 * 3);
    assert_eq!(engine.active_voices(), 0);
}

#[test]
fn set_instrument_swaps_the_sound_and_checks_the_bus() {
    let mut engine = engine(&[BuiltIn::Lead]);
    engine.schedule(note_on(0, 0, 60)).unwrap();
    render(&mut engine, 4800);
    engine.set_instrument(0, BuiltIn::Drums.into()).unwrap();
    // The old lead rings out its release; the drums play the next note.
    assert_eq!(engine.active_voices(), 1);
    engine.schedule(note_on(engine.frame(), 0, 36)).unwrap();
    render(&mut engine, 10);
    assert_eq!(engine.active_voices(), 2);
    assert!(matches!(
        engine.set_instrument(3, BuiltIn::Pad.into()),
        Err(SynthError::Invalid { what: "bus", .. })
    ));
}

#[test]
fn master_gain_fades_everything() {
    let mut engine = engine(&[BuiltIn::Pad, BuiltIn::Drums]);
    engine.schedule(note_on(0, 0, 57)).unwrap();
    engine
        .schedule(Scheduled {
            frame: 48_000,
            event: Event::Master {
                gain: 0.0,
                ramp_frames: 480,
            },
        })
        .unwrap();
    let out = mono(&render(&mut engine, 48_000 * 2));
    assert!(rms(&out[40_000..47_000]) > 1e-3);
    assert_eq!(rms(&out[49_000..]), 0.0, "dry and reverb alike are silent");
}

#[test]
fn the_engine_can_move_to_an_audio_thread() {
    fn send<T: Send + 'static>(_: &T) {}
    let engine = engine(&[BuiltIn::Lead]);
    send(&engine);
    let handle = std::thread::spawn(move || {
        let mut engine = engine;
        let mut out = vec![[0.0f32; 2]; 64];
        engine.render(&mut out);
        engine.frame()
    });
    assert_eq!(handle.join().unwrap(), 64);
}
