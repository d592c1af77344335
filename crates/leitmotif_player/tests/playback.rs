//! The player through kira's offline backend at 48 kHz, frame by frame as a game runs it:
//! changes of state on the exact sample of their boundary, crossfades over the mood's beats,
//! layers coming in with the intensity, stingers on their beat in the key playing, late
//! phrases and phrase boundaries without silence, pause and mute. Judged from the audio.

pub mod common;

use common::{Rig, director, fake, first_difference, hz, rms, tone};
use leitmotif_director::DirectorEvent;
use leitmotif_player::{Part, PlayerSettings};
use leitmotif_score::theory::Mode;
use leitmotif_tokens::Layer;

/// A rig in `state` that plays 1.5 s, then (if `to` names one) changes state, then plays
/// `after` seconds more. Returns the rig and the change's boundary tick.
fn change(from: &str, to: Option<&str>, after: f64) -> (Rig, u64) {
    let mut rig = Rig::new(director(from, 0.5), PlayerSettings::default());
    // The change is asked for at 1.5 s: past the 0.3 s of music already sent, the next bar
    // line is at 2 s.
    rig.run(1.5);
    let mut due = 0;
    if let Some(to) = to {
        rig.director.set_state(to).unwrap_or_else(|e| panic!("{e}"));
        due = rig
            .director
            .pending_job()
            .map(|(_, due)| due)
            .unwrap_or_else(|| panic!("no phrase asked for"));
    }
    rig.run(after);
    (rig, due)
}

#[test]
fn a_cut_starts_the_new_music_on_the_exact_sample_of_its_boundary() {
    let (changed, due) = change("calm", Some("snap"), 3.0);
    let (same, _) = change("calm", None, 3.0);
    // "snap" lands on the next bar line: 2 s, bar 2.
    assert_eq!(changed.director.clock().position(due).beat, 1);
    assert_eq!(changed.director.clock().position(due).bar, 2);
    let boundary = changed.frame_of(due);
    // Nothing differs before the boundary; from its very sample, the music is another.
    assert_eq!(
        first_difference(&changed.audio, &same.audio),
        Some(boundary),
        "the change must be heard from frame {boundary}"
    );
    // The new state's C5 sounds after it, and the old A4 has stopped.
    let new = hz(fake::melody_pitch(Mode::NaturalMinor));
    let old = hz(fake::melody_pitch(Mode::Major));
    let before = &changed.audio[boundary - 9600..boundary];
    let after = &changed.audio[boundary + 4800..boundary + 14_400];
    assert!(tone(before, new) < 0.002, "{}", tone(before, new));
    assert!(tone(after, new) > 0.02, "{}", tone(after, new));
    assert!(
        tone(after, old) < 0.1 * tone(before, old),
        "old {} -> {}",
        tone(before, old),
        tone(after, old)
    );
    // The director says so on the same tick.
    assert!(changed.events.iter().any(|e| matches!(
        e,
        DirectorEvent::TransitionDone { tick, crossfade_beats, .. }
            if *tick == due && *crossfade_beats == 0.0
    )));
}

#[test]
fn a_crossfade_spans_the_moods_beats() {
    // "fade" crossfades over 4 beats: 2 s at 120 bpm.
    let (changed, due) = change("calm", Some("fade"), 5.0);
    let (same, _) = change("calm", None, 5.0);
    let boundary = changed.frame_of(due);
    assert_eq!(
        first_difference(&changed.audio, &same.audio),
        Some(boundary)
    );
    // The new music alone from the start, as the reference for its level.
    let mut alone = Rig::new(director("fade", 0.5), PlayerSettings::default());
    alone.run(5.0);
    let alone_start = alone.frame_at(0.0);
    let new = hz(fake::melody_pitch(Mode::Dorian));
    let old = hz(fake::melody_pitch(Mode::Major));
    let span = 96_000.0; // 4 beats
    let window = 1920; // 40 ms
    let at = |audio: &[[f32; 2]], from: usize, hz: f64| tone(&audio[from..from + window], hz);
    for x in [0.25, 0.5, 0.75, 1.25, 1.5] {
        let offset = (x * span) as usize;
        // The new deck rises as sin, the old falls as cos (equal power), over the span.
        let rise = at(&changed.audio, boundary + offset, new)
            / at(&alone.audio, alone_start + offset, new);
        let fall =
            at(&changed.audio, boundary + offset, old) / at(&same.audio, boundary + offset, old);
        let mid = ((x + window as f64 / 2.0 / span).min(1.0)) * std::f64::consts::FRAC_PI_2;
        let (want_rise, want_fall) = (mid.sin(), mid.cos());
        assert!(
            (rise - want_rise).abs() < 0.05,
            "at {x} of the fade the new music is at {rise:.3}, not {want_rise:.3}"
        );
        if x < 1.0 {
            assert!(
                (fall - want_fall).abs() < 0.05,
                "at {x} of the fade the old music is at {fall:.3}, not {want_fall:.3}"
            );
        } else {
            assert!(
                fall < 0.02,
                "the old music still sounds after the fade: {fall:.3}"
            );
        }
    }
}

#[test]
fn intensity_brings_a_layer_in_smoothly() {
    // "layered": chords enter at intensity 0.6. The melody is turned off to hear them alone.
    let mut settings = PlayerSettings::default();
    settings.volumes.melody = 0.0;
    let mut rig = Rig::new(director("layered", 0.2), settings);
    rig.run(3.0);
    let start = rig.frame_at(0.0);
    assert!(
        rms(&rig.audio[start..]) < 1e-5,
        "the chords are silent at intensity 0.2: {}",
        rms(&rig.audio[start..])
    );
    assert_eq!(rig.director.active_layers(), [Layer::Melody]);
    // The phrases carry the chords all along (they come in mid-phrase).
    assert!(
        rig.director
            .current_phrase()
            .is_some_and(|p| p.layers.contains(&Layer::Chords))
    );
    let from = rig.audio.len();
    rig.director.set_intensity(1.0);
    rig.run(4.0);
    let audio = &rig.audio[from..];
    let full = rms(&audio[audio.len() - 48_000..]);
    assert!(full > 0.005, "the chords came in: {full}");
    let first = audio
        .iter()
        .position(|[l, r]| l.abs().max(r.abs()) > 1e-4)
        .unwrap_or_else(|| panic!("never audible"));
    // Smoothly: the first tenth of a second after they become audible is far below full.
    let onset = rms(&audio[first..first + 4800]);
    assert!(onset < 0.4 * full, "a jump: {onset} of {full}");
    // And rising: each quarter second louder than the one before until full.
    let quarters: Vec<f64> = (0..4)
        .map(|q| rms(&audio[first + q * 12_000..first + (q + 1) * 12_000]))
        .collect();
    assert!(
        quarters.windows(2).all(|w| w[1] > w[0]),
        "not rising: {quarters:?}"
    );
    assert!(rig.director.active_layers().contains(&Layer::Chords));
}

#[test]
fn a_stinger_plays_on_its_beat_in_the_key_playing() {
    let run = |fire: bool| {
        let mut rig = Rig::new(director("snap", 0.5), PlayerSettings::default());
        rig.run(2.3);
        let mut due = 0;
        if fire {
            rig.director
                .stinger("calm")
                .unwrap_or_else(|e| panic!("{e}"));
            let job = rig.director.poll_job().unwrap_or_else(|| panic!("no job"));
            // The stinger's mood is major; the music plays in C minor: the stinger follows it.
            let playing = rig.director.current_phrase().map(|p| p.key);
            assert_eq!(job.request.key, playing);
            due = job.due_tick;
            rig.deliver(&job);
        }
        rig.run(2.0);
        (rig, due)
    };
    let (with, due) = run(true);
    let (without, _) = run(false);
    assert_eq!(with.director.clock().position(due).tick, 0, "on a beat");
    let beat = with.frame_of(due);
    // Identical up to the beat; the stinger from its first samples (a note's very first
    // sample can be its envelope's zero).
    let first = first_difference(&with.audio, &without.audio)
        .unwrap_or_else(|| panic!("the stinger is not heard"));
    assert!(
        (beat..beat + 3).contains(&first),
        "heard from {first}, the beat is {beat}"
    );
    assert!(
        with.events
            .iter()
            .any(|e| matches!(e, DirectorEvent::StingerStarted { tick, .. } if *tick == due))
    );
}

/// The smallest RMS over `step`-frame windows of `audio`.
fn quietest(audio: &[[f32; 2]], step: usize) -> f64 {
    audio
        .chunks_exact(step)
        .map(rms)
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn a_late_phrase_never_leaves_silence() {
    let mut rig = Rig::new(director("calm", 0.5), PlayerSettings::default());
    rig.hold = true;
    // The first phrase (4 bars, 8 s) ends with its continuation still held: it repeats.
    rig.run(12.0);
    assert!(
        rig.events
            .iter()
            .any(|e| matches!(e, DirectorEvent::PhraseLate { .. }))
    );
    assert!(rig.events.iter().any(
        |e| matches!(e, DirectorEvent::PhraseStarted { repeat: 1, tick, .. } if *tick == 4 * 1920)
    ));
    rig.hold = false;
    rig.release();
    rig.run(6.0);
    let start = rig.frame_at(0.05);
    let floor = quietest(&rig.audio[start..], 480);
    assert!(floor > 0.01, "a silent 10 ms: {floor}");
    // The late phrase landed where the repeat ended (16 s).
    assert!(rig.events.iter().any(
        |e| matches!(e, DirectorEvent::PhraseStarted { repeat: 0, tick, .. } if *tick == 8 * 1920)
    ));
}

#[test]
fn notes_held_across_a_phrase_boundary_leave_no_gap() {
    let mut rig = Rig::new(director("calm", 0.5), PlayerSettings::default());
    rig.run(9.0);
    // The first phrase ends at 8 s; the next holds the same A4 from the same sample.
    let boundary = rig.frame_of(4 * 1920);
    let before = rms(&rig.audio[boundary - 4800..boundary - 480]);
    let around = quietest(&rig.audio[boundary - 480..boundary + 2400], 96);
    assert!(
        around > 0.5 * before,
        "the sound dips to {around} (from {before}) at the boundary"
    );
    assert!(rig.events.iter().any(
        |e| matches!(e, DirectorEvent::PhraseStarted { repeat: 0, tick, .. } if *tick == 4 * 1920)
    ));
}

#[test]
fn pause_stops_the_clock_and_the_sound_and_resume_goes_on() {
    let mut rig = Rig::new(director("calm", 0.5), PlayerSettings::default());
    rig.run(3.0);
    rig.player.pause();
    rig.run(0.1);
    let paused_at = rig.director.seconds();
    let tick = rig.director.tick();
    let from = rig.audio.len();
    rig.run(2.0);
    assert_eq!(
        rig.director.seconds(),
        paused_at,
        "the clock ran while paused"
    );
    assert_eq!(rig.director.tick(), tick);
    assert!(
        rig.audio[from..]
            .iter()
            .all(|[l, r]| *l == 0.0 && *r == 0.0)
    );
    rig.player.resume();
    rig.run(1.0);
    let resumed = rig.director.seconds() - paused_at;
    assert!((resumed - 1.0).abs() < 0.05, "{resumed} s after resuming");
    assert!(rms(&rig.audio[rig.audio.len() - 24_000..]) > 0.01);
}

#[test]
fn mute_silences_while_the_clock_runs_and_volumes_scale_parts() {
    let mut rig = Rig::new(director("calm", 0.5), PlayerSettings::default());
    rig.run(2.0);
    let loud = rms(&rig.audio[rig.audio.len() - 24_000..]);
    rig.player.set_muted(true);
    let seconds = rig.director.seconds();
    rig.run(1.0);
    assert!((rig.director.seconds() - seconds - 1.0).abs() < 1e-6);
    let muted = rms(&rig.audio[rig.audio.len() - 24_000..]);
    assert!(muted < 1e-6, "muted: {muted} (was {loud})");
    rig.player.set_muted(false);
    rig.player
        .set_volume(Part::Melody, 0.5)
        .unwrap_or_else(|e| panic!("{e}"));
    rig.run(2.0);
    let half = rms(&rig.audio[rig.audio.len() - 24_000..]);
    assert!(
        half > 0.35 * loud && half < 0.65 * loud,
        "half volume: {half} of {loud}"
    );
    assert!(rig.player.set_volume(Part::Melody, f32::NAN).is_err());
}
