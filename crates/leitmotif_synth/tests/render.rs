//! Rendering known scores and checking what comes out: pitch by FFT, onsets from the
//! envelope, silence between notes, peaks under a dense loud score, stems.

mod common;

use common::*;
use leitmotif_score::{Role, Score};
use leitmotif_synth::{BuiltIn, RenderOptions, render_score, render_stems};

const SR: u32 = 48_000;

/// A4 held for four seconds from 0.5 s (120 bpm) on `program`.
fn sustained_a4(program: u8) -> Score {
    score(
        120.0,
        vec![track(Role::Melody, program, 0, &[(480, 3840, 69, 100)])],
    )
}

fn seconds(s: f64) -> usize {
    (s * f64::from(SR)) as usize
}

fn assert_a4(audio: &leitmotif_synth::Audio, what: &str) {
    assert_pitch(audio, 440.0, what);
}

fn assert_pitch(audio: &leitmotif_synth::Audio, hz: f64, what: &str) {
    let m = mono(&audio.frames);
    // From 1.5 s (attack over, vibrato at full depth) for 2^16 samples (1.37 s).
    let window = &m[seconds(1.5)..seconds(1.5) + 65_536];
    let (f0, strongest) = fundamental(window, SR);
    assert!(
        (f0 - hz).abs() < hz * 0.01,
        "{what}: fundamental {f0:.2} Hz, strongest partial {strongest:.1} Hz"
    );
    let ratio = strongest / f0;
    assert!(
        (ratio - ratio.round()).abs() < 0.02,
        "{what}: the strongest partial {strongest:.1} Hz is not a harmonic of {f0:.2} Hz"
    );
}

#[test]
fn built_in_lead_plays_a4_at_440_hz() {
    assert_eq!(BuiltIn::for_program(80, 0), BuiltIn::Lead);
    let audio = render_score(&sustained_a4(80), &RenderOptions::default()).unwrap();
    assert_a4(&audio, "built-in lead");
}

#[test]
fn every_built_in_melodic_instrument_is_in_tune() {
    // The bass doubles every note with a sine an octave down (its sub), so its lowest
    // partial is A3.
    for (program, instrument, hz) in [
        (33, BuiltIn::Bass, 220.0),
        (48, BuiltIn::Pad, 440.0),
        (4, BuiltIn::Keys, 440.0),
    ] {
        assert_eq!(BuiltIn::for_program(program, 0), instrument);
        let audio = render_score(&sustained_a4(program), &RenderOptions::default()).unwrap();
        assert_pitch(&audio, hz, instrument.as_str());
    }
}

#[test]
fn soundfont_preset_plays_a4_at_440_hz() {
    let Some(font) = gm_bank("soundfont_preset_plays_a4_at_440_hz") else {
        return;
    };
    let options = RenderOptions {
        soundfont: Some(font),
        ..RenderOptions::default()
    };
    // Square lead and calliope: sustained presets with a clear fundamental.
    for program in [80, 82] {
        let audio = render_score(&sustained_a4(program), &options).unwrap();
        assert_a4(&audio, &format!("SoundFont program {program}"));
    }
}

/// Notes at irregular times, 250 ms or more apart, with a long rest in the middle.
fn spaced_notes(pitches: &[u8]) -> Vec<(u64, u64, u8, u8)> {
    let starts = [480, 790, 1320, 1710, 2400, 2950, 3270, 5200, 5630, 6100];
    starts
        .iter()
        .zip(pitches.iter().cycle())
        .map(|(&start, &pitch)| (start, 120, pitch, 105))
        .collect()
}

fn assert_onsets(audio: &leitmotif_synth::Audio, score: &Score, what: &str) {
    let tempo = leitmotif_score::time::TempoMap::new(score);
    let mut expected: Vec<f64> = score
        .tracks
        .iter()
        .flat_map(|t| t.notes.iter().map(|n| tempo.seconds(n.start)))
        .collect();
    expected.sort_by(f64::total_cmp);
    expected.dedup();
    let found = onsets(&mono(&audio.frames), SR);
    assert_eq!(
        found.len(),
        expected.len(),
        "{what}: found onsets {found:.4?}, expected {expected:.4?}"
    );
    for (f, e) in found.iter().zip(&expected) {
        assert!(
            (f - e).abs() <= 0.005,
            "{what}: onset at {f:.4} s for the note at {e:.4} s"
        );
    }
}

#[test]
fn built_in_onsets_land_within_5_ms_of_the_notes() {
    let cases = [
        (Role::Melody, 80, 0, &[69u8, 74, 76, 81][..]),
        (Role::Bass, 33, 1, &[33, 40, 45, 38]),
        (Role::Other, 0, 2, &[60, 64, 67, 72]),
        (Role::Drums, 0, 9, &[36, 38, 42, 37, 39, 45, 50, 44, 36, 49]),
    ];
    for (role, program, channel, pitches) in cases {
        let score = score(
            120.0,
            vec![track(role, program, channel, &spaced_notes(pitches))],
        );
        let audio = render_score(&score, &RenderOptions::default()).unwrap();
        let what = BuiltIn::for_program(program, channel).as_str();
        assert_onsets(&audio, &score, what);
    }
}

#[test]
fn soundfont_onsets_land_within_5_ms_of_the_notes() {
    let Some(font) = gm_bank("soundfont_onsets_land_within_5_ms_of_the_notes") else {
        return;
    };
    let options = RenderOptions {
        soundfont: Some(font),
        ..RenderOptions::default()
    };
    // The square lead rather than the piano: this bank's piano samples take 5 ms to rise
    // to a tenth of their peak (in FluidSynth too), which says nothing of our timing.
    for (role, program, channel, pitches) in [
        (Role::Melody, 80, 0, &[60u8, 64, 67, 72][..]),
        // Sharp kit pieces only: this bank's toms ring for over 0.3 s and its pedal hat swells
        // in, and the envelope detector (energy quadrupling within 6 ms) then finds them a few
        // ms late, which says nothing of our timing either.
        (Role::Drums, 0, 9, &[36, 38, 42, 37, 39]),
    ] {
        let score = score(
            120.0,
            vec![track(role, program, channel, &spaced_notes(pitches))],
        );
        let audio = render_score(&score, &options).unwrap();
        assert_onsets(
            &audio,
            &score,
            &format!("SoundFont program {program} ch {channel}"),
        );
    }
}

#[test]
fn silence_where_there_are_no_notes() {
    // Notes from 1 s to 1.5 s and again at 6 s; nothing in between.
    let notes = [(960, 480, 69, 127), (5760, 480, 72, 127)];
    let mut options = RenderOptions::default();
    let fonts = gm_bank("silence_where_there_are_no_notes (SoundFont part)");
    for font in [None].into_iter().chain(fonts.map(Some)) {
        options.soundfont = font;
        for (role, program, channel) in [
            (Role::Melody, 80, 0),
            (Role::Chords, 48, 2),
            (Role::Drums, 0, 9),
        ] {
            let score = score(120.0, vec![track(role, program, channel, &notes)]);
            let m = mono(&render_score(&score, &options).unwrap().frames);
            let what = format!(
                "program {program} ch {channel}, soundfont {}",
                options.soundfont.is_some()
            );
            let before = rms(&m[..seconds(0.99)]);
            assert!(
                before < 1e-6,
                "{what}: RMS {before:e} before the first note"
            );
            let sounding = rms(&m[seconds(1.0)..seconds(1.5)]);
            assert!(
                sounding > 1e-3,
                "{what}: RMS {sounding:e} while the note plays"
            );
            // Releases and the room's tail have died away 2.5 s after the note ends.
            let gap = rms(&m[seconds(4.0)..seconds(5.99)]);
            assert!(gap < 1e-5, "{what}: RMS {gap:e} in the rest");
        }
    }
}

#[test]
fn a_dense_loud_score_never_reaches_full_scale() {
    let score = dense_loud_score(8);
    let mut options = RenderOptions::default();
    let fonts = gm_bank("a_dense_loud_score_never_reaches_full_scale (SoundFont part)");
    for font in [None].into_iter().chain(fonts.map(Some)) {
        options.soundfont = font;
        let audio = render_score(&score, &options).unwrap();
        let peak = audio.peak();
        assert!(peak < 1.0, "peak {peak}");
        let level = rms(&mono(&audio.frames));
        assert!(
            level > 0.05,
            "the mix is loud (RMS {level}), not muted by the limiter"
        );
    }
}

#[test]
fn stems_are_named_by_role_and_sum_to_the_mix() {
    let q = 480;
    let mut score = dense_loud_score(2);
    // Quieter, so the limiter leaves the mix alone, plus a second melody track.
    for track in &mut score.tracks {
        for note in &mut track.notes {
            note.velocity = 60;
        }
    }
    score.tracks.push(track(
        Role::Melody,
        73,
        3,
        &[(0, 4 * q, 79, 60), (4 * q, 4 * q, 81, 60)],
    ));
    score.normalize();
    let options = RenderOptions::default();
    let mix = render_score(&score, &options).unwrap();
    assert!(
        mix.peak() < 0.9,
        "the mix stays below the limiter: {}",
        mix.peak()
    );
    let stems = render_stems(&score, &options).unwrap();
    let names: Vec<&str> = stems.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["melody", "bass", "chords", "drums", "melody-2"]);
    let mut max_error = 0.0f32;
    for (i, frame) in mix.frames.iter().enumerate() {
        for (c, mixed) in frame.iter().enumerate() {
            let sum: f32 = stems.iter().map(|s| s.audio.frames[i][c]).sum();
            max_error = max_error.max((sum - mixed).abs());
        }
    }
    for stem in &stems {
        assert_eq!(stem.audio.frames.len(), mix.frames.len());
        assert!(stem.audio.peak() > 0.01, "stem {} is audible", stem.name);
    }
    assert!(
        max_error < 1e-4,
        "stems differ from the mix by up to {max_error}"
    );
}

#[test]
fn a_c7_lead_has_no_aliases() {
    // C7 (2093 Hz) at full velocity: the brightest the lead gets. Analysed before the
    // vibrato starts, so every partial is a sharp line.
    let score = score(
        120.0,
        vec![track(Role::Melody, 80, 0, &[(0, 960, 96, 127)])],
    );
    let m = mono(
        &render_score(&score, &RenderOptions::default())
            .unwrap()
            .frames,
    );
    let window = &m[seconds(0.05)..seconds(0.05) + 8192];
    let spec = spectrum(window);
    let bin_hz = f64::from(SR) / 8192.0;
    let f0 = 440.0 * 2f64.powf((96.0 - 69.0) / 12.0);
    let level = |hz: f64| {
        let k = (hz / bin_hz).round() as usize;
        spec[k.saturating_sub(2)..=k + 2]
            .iter()
            .copied()
            .fold(0.0, f64::max)
    };
    let fundamental = level(f0);
    assert!(level(2.0 * f0) > fundamental * 0.1, "the lead is bright");
    // Partials 12 to 60 lie above Nyquist; a naive saw would fold them back down to
    // these frequencies at -20 to -35 dB.
    let mut worst = 0.0f64;
    for h in 12..=60 {
        let folded = (h as f64 * f0) % f64::from(SR);
        let folded = if folded > f64::from(SR) / 2.0 {
            f64::from(SR) - folded
        } else {
            folded
        };
        let nearest_harmonic = (folded / f0).round() * f0;
        if folded < 50.0 || (folded - nearest_harmonic).abs() < 6.0 * bin_hz {
            continue;
        }
        worst = worst.max(level(folded) / fundamental);
    }
    let db = 20.0 * worst.log10();
    // Measured about -61.5 dB (interpolation residue and window leakage, inaudible);
    // a naive or two-point PolyBLEP saw leaves spikes far above -55 dB here.
    assert!(
        db < -55.0,
        "an alias at {db:.1} dB relative to the fundamental"
    );
}

#[test]
fn layers_are_balanced() {
    // Each built-in layer of a moderate four-layer phrase, alone: none drowns the others.
    let mut score = dense_loud_score(4);
    for track in &mut score.tracks {
        for note in &mut track.notes {
            note.velocity = 90;
        }
    }
    let stems = render_stems(&score, &RenderOptions::default()).unwrap();
    let levels: Vec<(String, f64)> = stems
        .iter()
        .map(|s| (s.name.clone(), 20.0 * rms(&mono(&s.audio.frames)).log10()))
        .collect();
    let loudest = levels.iter().map(|l| l.1).fold(f64::MIN, f64::max);
    let quietest = levels.iter().map(|l| l.1).fold(f64::MAX, f64::min);
    assert!(
        loudest - quietest < 10.0,
        "layer levels (dBFS RMS): {levels:.1?}"
    );
    assert!(
        loudest < -6.0 && quietest > -35.0,
        "layer levels (dBFS RMS): {levels:.1?}"
    );
}
