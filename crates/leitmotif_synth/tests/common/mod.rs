//! Analysis helpers shared by the integration tests: FFT pitch, onset detection, levels.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::path::PathBuf;

use leitmotif_score::{Note, Role, Score, TempoChange, Track};

/// The public-domain General MIDI SoundFont Debian's `csound-soundfont` installs.
pub const GM_BANK: &str = "/usr/share/sounds/sf2/sf_GMbank.sf2";

/// The GM bank, or `None` (with a message saying the test is skipped) when absent.
pub fn gm_bank(test: &str) -> Option<leitmotif_synth::SoundFont> {
    let path = PathBuf::from(GM_BANK);
    if !path.exists() {
        eprintln!(
            "skipping {test}: {GM_BANK} is absent (install Debian's csound-soundfont; \
             scripts/test.sh does)"
        );
        return None;
    }
    Some(leitmotif_synth::SoundFont::load(&path).expect("the GM bank loads"))
}

/// Mono mix of stereo frames.
pub fn mono(frames: &[[f32; 2]]) -> Vec<f64> {
    frames
        .iter()
        .map(|[l, r]| (f64::from(*l) + f64::from(*r)) * 0.5)
        .collect()
}

/// Root-mean-square level of `samples`.
pub fn rms(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|x| x * x).sum::<f64>() / samples.len() as f64).sqrt()
}

/// In-place iterative radix-2 FFT of `re`/`im` (length a power of two).
pub fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    assert!(n.is_power_of_two() && im.len() == n);
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let angle = -std::f64::consts::TAU / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (s, c) = (angle * k as f64).sin_cos();
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * c - im[b] * s;
                let ti = re[b] * s + im[b] * c;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// Magnitude spectrum (bins 0..n/2) of `samples` under a Hann window; n is the largest
/// power of two that fits.
pub fn spectrum(samples: &[f64]) -> Vec<f64> {
    let n = 1usize << (usize::BITS - 1 - samples.len().leading_zeros());
    let mut re: Vec<f64> = samples[..n]
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
            x * w
        })
        .collect();
    let mut im = vec![0.0; n];
    fft(&mut re, &mut im);
    re.iter()
        .zip(&im)
        .take(n / 2)
        .map(|(r, i)| (r * r + i * i).sqrt())
        .collect()
}

/// The fundamental frequency of a steady tone: the lowest spectral peak within 20 dB of
/// the strongest (so a tone whose second partial is the loudest still reports its
/// fundamental), refined by parabolic interpolation. Also returns the strongest peak.
pub fn fundamental(samples: &[f64], sample_rate: u32) -> (f64, f64) {
    let spec = spectrum(samples);
    let n = spec.len() * 2;
    let bin_hz = f64::from(sample_rate) / n as f64;
    // Ignore DC and sub-audio rumble.
    let first = (25.0 / bin_hz).ceil() as usize;
    let strongest = (first..spec.len() - 1)
        .max_by(|&a, &b| spec[a].total_cmp(&spec[b]))
        .unwrap();
    let floor = spec[strongest] * 0.1;
    let lowest = (first..spec.len() - 1)
        .find(|&k| spec[k] >= floor && spec[k] >= spec[k - 1] && spec[k] >= spec[k + 1])
        .unwrap_or(strongest);
    // Vibrato spreads a partial into sidebands a few hertz apart: take the strongest bin
    // within 3 % above the lowest peak as the partial's centre.
    let peak = (lowest..=(lowest + lowest * 3 / 100 + 1).min(spec.len() - 2))
        .max_by(|&a, &b| spec[a].total_cmp(&spec[b]))
        .unwrap_or(lowest);
    let refine = |k: usize| {
        let (a, b, c) = (spec[k - 1].ln(), spec[k].ln(), spec[k + 1].ln());
        let offset = 0.5 * (a - c) / (a - 2.0 * b + c);
        (k as f64 + offset) * bin_hz
    };
    (refine(peak), refine(strongest))
}

/// An RMS envelope: one value per `hop` samples over windows of `window` samples.
pub fn envelope(samples: &[f64], hop: usize, window: usize) -> Vec<f64> {
    (0..samples.len().saturating_sub(window) / hop)
        .map(|k| rms(&samples[k * hop..k * hop + window]))
        .collect()
}

/// Onset times in seconds, found blindly from the envelope: the RMS over the 20 ms before
/// each 0.5 ms step (long enough to hold a period of a low bass note) that rises at least
/// 12 dB above its minimum over the previous 6 ms, above an absolute floor, at least 40 ms
/// after the previous onset. The time reported is the end of that window.
pub fn onsets(samples: &[f64], sample_rate: u32) -> Vec<f64> {
    let hop = (sample_rate / 2000) as usize; // 0.5 ms
    let window = (sample_rate / 50) as usize; // 20 ms
    let env: Vec<f64> = (0..samples.len() / hop)
        .map(|k| rms(&samples[(k * hop).saturating_sub(window)..k * hop]))
        .collect();
    let floor = 1e-3;
    let look_back = 12;
    let refractory = 80;
    let mut found = Vec::new();
    let mut last: Option<usize> = None;
    for k in look_back..env.len() {
        let min = env[k - look_back..k]
            .iter()
            .copied()
            .fold(f64::MAX, f64::min);
        let rising = env[k] > floor && env[k] > 4.0 * min.max(floor / 4.0);
        if rising && last.is_none_or(|l| k - l >= refractory) {
            found.push((k * hop) as f64 / f64::from(sample_rate));
            last = Some(k);
        }
    }
    found
}

/// Pearson correlation of two series (over the shorter length).
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    ab / (aa * bb).sqrt().max(1e-30)
}

/// Half-wave-rectified spectral flux in 10 ms hops (1024-sample Hann frames,
/// log-compressed magnitudes): a standard onset-strength signal.
pub fn spectral_flux(samples: &[f64], sample_rate: u32) -> Vec<f64> {
    let hop = (sample_rate / 100) as usize;
    let n = 1024;
    let window: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos())
        .collect();
    let mut previous = vec![0.0; n / 2];
    let mut flux = Vec::new();
    let mut start = 0;
    while start + n <= samples.len() {
        let mut re: Vec<f64> = samples[start..start + n]
            .iter()
            .zip(&window)
            .map(|(x, w)| x * w)
            .collect();
        let mut im = vec![0.0; n];
        fft(&mut re, &mut im);
        let mut sum = 0.0;
        for k in 0..n / 2 {
            let mag = (1.0 + 100.0 * (re[k] * re[k] + im[k] * im[k]).sqrt()).ln();
            sum += (mag - previous[k]).max(0.0);
            previous[k] = mag;
        }
        flux.push(sum);
        start += hop;
    }
    flux
}

/// A track of `role` on `channel` with program `program` and the given notes
/// (start tick, duration ticks, pitch, velocity).
pub fn track(role: Role, program: u8, channel: u8, notes: &[(u64, u64, u8, u8)]) -> Track {
    let mut track = Track::new(role.as_str(), role, program, channel);
    track.notes = notes
        .iter()
        .map(|&(start, duration, pitch, velocity)| Note {
            start,
            duration,
            pitch,
            velocity,
        })
        .collect();
    track.sort_notes();
    track
}

/// A score of `tracks` at `bpm` (480 ticks per quarter).
pub fn score(bpm: f64, tracks: Vec<Track>) -> Score {
    let mut score = Score::default();
    score.tempos.push(TempoChange::from_bpm(0, bpm).unwrap());
    score.tracks = tracks;
    score.normalize();
    score
}

/// A dense, loud four-layer score: a melody in sixteenths, a bass in eighths, six-note
/// chords every half bar and a full drum pattern with crashes, all at velocity 127.
pub fn dense_loud_score(bars: u64) -> Score {
    let q = 480;
    let mut melody = Vec::new();
    let mut bass = Vec::new();
    let mut chords = Vec::new();
    let mut drums = Vec::new();
    for bar in 0..bars {
        let t0 = bar * 4 * q;
        for s in 0..16 {
            let pitch = 72 + [0, 3, 7, 10, 12, 15, 19, 22][(s + bar as usize) % 8];
            melody.push((t0 + s as u64 * q / 4, q / 4, pitch, 127));
            drums.push((t0 + s as u64 * q / 4, q / 8, 42, 127));
        }
        for e in 0..8 {
            bass.push((
                t0 + e * q / 2,
                q / 2,
                36 + [0, 12, 7, 12][e as usize % 4],
                127,
            ));
        }
        for half in 0..2 {
            for pitch in [48, 55, 60, 63, 67, 70] {
                chords.push((t0 + half * 2 * q, 2 * q, pitch, 127));
            }
        }
        for beat in 0..4 {
            drums.push((
                t0 + beat * q,
                q / 4,
                if beat % 2 == 0 { 36 } else { 38 },
                127,
            ));
        }
        drums.push((t0, q, 49, 127));
        drums.push((t0 + 3 * q + q / 2, q / 4, 46, 127));
    }
    score(
        150.0,
        vec![
            track(Role::Melody, 81, 0, &melody),
            track(Role::Bass, 38, 1, &bass),
            track(Role::Chords, 89, 2, &chords),
            track(Role::Drums, 0, 9, &drums),
        ],
    )
}
