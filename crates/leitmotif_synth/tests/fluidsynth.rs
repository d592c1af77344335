//! The SoundFont path against software nobody here wrote: FluidSynth renders the same MIDI
//! file with the same SoundFont, and the two onset envelopes must agree.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{correlation, gm_bank, mono, spectral_flux};
use leitmotif_synth::{RenderOptions, render_score};

const SR: u32 = 48_000;

fn listening(name: &str) -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../assets/examples/listening")
        .join(name)
}

fn fluidsynth_available() -> bool {
    Command::new("fluidsynth")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// FluidSynth's rendering of `midi`, as mono samples.
fn fluidsynth(midi: &Path, out: &Path) -> Vec<f64> {
    let status = Command::new("fluidsynth")
        .args(["-ni", "-q", "-F"])
        .arg(out)
        .args(["-r", "48000"])
        .arg(common::GM_BANK)
        .arg(midi)
        .output()
        .expect("fluidsynth runs");
    assert!(
        status.status.success(),
        "fluidsynth failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut reader = hound::WavReader::open(out).expect("fluidsynth wrote a WAV file");
    let spec = reader.spec();
    assert_eq!(spec.sample_rate, SR);
    let channels = usize::from(spec.channels);
    let samples: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = f64::from(1u32 << (spec.bits_per_sample - 1));
            reader
                .samples::<i32>()
                .map(|s| f64::from(s.unwrap()) / scale)
                .collect()
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| f64::from(s.unwrap()))
            .collect(),
    };
    samples
        .chunks(channels)
        .map(|c| c.iter().sum::<f64>() / channels as f64)
        .collect()
}

/// The best correlation of `a` against `b` shifted by up to `max_lag` hops either way
/// (FluidSynth may start a few milliseconds later), with the lag that gave it.
fn best_correlation(a: &[f64], b: &[f64], max_lag: usize) -> (f64, isize) {
    let mut best = (f64::MIN, 0);
    for lag in -(max_lag as isize)..=max_lag as isize {
        let (x, y) = if lag >= 0 {
            (a, &b[lag as usize..])
        } else {
            (&a[(-lag) as usize..], b)
        };
        let c = correlation(x, y);
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

/// The agreement required between the two onset envelopes (spectral flux, 10 ms hops,
/// best lag within ±30 ms).
///
/// Measured on this bank: 0.993 for `dungeon_chase.mid` and 0.948 for `boss_ramp.mid`,
/// both at lag 0 (FluidSynth adds its own reverb and chorus, interpolates samples
/// differently and applies more of the SoundFont's modulators, so the envelopes are alike
/// but not equal). The same renderings offset by 3/8 of a beat, or by a beat and 3/8 (off
/// the sixteenth-note grid), fall to 0.01 to 0.15, and a different piece to 0.11. 0.7
/// sits well clear of both: a timing or instrument-selection bug drops below it,
/// ordinary renderer differences do not.
const THRESHOLD: f64 = 0.7;

#[test]
fn onset_envelopes_match_fluidsynth() {
    if !fluidsynth_available() {
        eprintln!(
            "skipping onset_envelopes_match_fluidsynth: fluidsynth is absent \
             (install Debian's fluidsynth; scripts/test.sh does)"
        );
        return;
    }
    let Some(font) = gm_bank("onset_envelopes_match_fluidsynth") else {
        return;
    };
    let options = RenderOptions {
        soundfont: Some(font),
        ..RenderOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut fluxes = Vec::new();
    for name in ["dungeon_chase.mid", "boss_ramp.mid"] {
        let midi = listening(name);
        let score = leitmotif_score::midi::read_midi(&std::fs::read(&midi).unwrap()).unwrap();
        let ours = spectral_flux(&mono(&render_score(&score, &options).unwrap().frames), SR);
        let theirs = spectral_flux(&fluidsynth(&midi, &dir.path().join("fluid.wav")), SR);
        // Compare while the music plays (FluidSynth's tail length differs from ours).
        let len = ours.len().min(theirs.len());
        let (c, lag) = best_correlation(&ours[..len], &theirs[..len], 3);
        eprintln!("{name}: onset-envelope correlation {c:.3} at lag {lag} hops");
        assert!(c > THRESHOLD, "{name}: correlation {c:.3} with FluidSynth");

        // The test can fail: the same music off by a fraction of a beat does.
        let tempo = leitmotif_score::time::TempoMap::new(&score);
        let beat_hops = (tempo.seconds(u64::from(score.ppq)) * 100.0).round() as usize;
        for offset in [beat_hops * 3 / 8, beat_hops + beat_hops * 3 / 8] {
            let shifted = &ours[offset..len];
            let (c, _) = best_correlation(shifted, &theirs[..len - offset], 3);
            eprintln!("{name}: shifted by {offset} hops: {c:.3}");
            assert!(
                c < THRESHOLD - 0.15,
                "{name} shifted by {offset} hops still correlates {c:.3}"
            );
        }
        fluxes.push((ours, theirs));
    }
    // So does a different piece.
    let (ours, _) = &fluxes[0];
    let (_, theirs) = &fluxes[1];
    let len = ours.len().min(theirs.len());
    let (c, _) = best_correlation(&ours[..len], &theirs[..len], 3);
    eprintln!("dungeon_chase against boss_ramp: {c:.3}");
    assert!(c < THRESHOLD - 0.15, "different pieces correlate {c:.3}");
}
