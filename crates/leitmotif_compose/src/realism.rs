//! How close generated melodies come to human ones, feature by feature: the overlapped
//! area of the two sets' feature distributions (MGEval-style: a Gaussian kernel density per
//! set, the area under the smaller of the two; 1 is the same distribution, 0 disjoint).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use leitmotif_score::theory::{Mode, PitchClass, Scale};
use leitmotif_score::time::BarMap;
use leitmotif_score::{DEFAULT_PPQ, Note, Score};
use leitmotif_tokens::ngram::KneserNey;
use leitmotif_tokens::{Corpus, Layer, Split, Style, assign_layers, encode_ids};
use serde::Serialize;

use crate::composer::Composer;
use crate::error::ComposeError;
use crate::request::Request;

/// The features, in report order.
pub const FEATURES: [&str; 8] = [
    "distinct_durations",
    "notes_per_bar",
    "repeated_note_ratio",
    "pitch_range",
    "used_pitches",
    "pitch_class_entropy",
    "mean_interval",
    "leap_ratio",
];

/// The velocity of every note of the folk data (its sources carry no dynamics).
pub const DATA_VELOCITY: u8 = 90;

/// One melody's features, in [`FEATURES`] order.
pub type Features = [f64; 8];

/// The features of a melody (its notes, sorted by start) spanning `bars` bars; `None` for
/// fewer than two notes.
pub fn features(notes: &[Note], bars: usize) -> Option<Features> {
    if notes.len() < 2 || bars == 0 {
        return None;
    }
    let durations: BTreeSet<u64> = notes.iter().map(|n| n.duration).collect();
    let pitches: BTreeSet<u8> = notes.iter().map(|n| n.pitch).collect();
    let intervals: Vec<i32> = notes
        .windows(2)
        .map(|w| i32::from(w[1].pitch) - i32::from(w[0].pitch))
        .collect();
    let pairs = intervals.len() as f64;
    let mut classes = [0usize; 12];
    for n in notes {
        classes[usize::from(n.pitch % 12)] += 1;
    }
    let total = notes.len() as f64;
    let entropy: f64 = classes
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total;
            -p * p.log2()
        })
        .sum();
    let (low, high) = (
        pitches.first().copied().unwrap_or(0),
        pitches.last().copied().unwrap_or(0),
    );
    Some([
        durations.len() as f64,
        total / bars as f64,
        intervals.iter().filter(|&&i| i == 0).count() as f64 / pairs,
        f64::from(high - low),
        pitches.len() as f64,
        entropy,
        intervals
            .iter()
            .map(|i| f64::from(i.unsigned_abs()))
            .sum::<f64>()
            / pairs,
        intervals.iter().filter(|&&i| i.abs() > 2).count() as f64 / pairs,
    ])
}

/// A melody measured: a score holding only a lead melody, cut to its first bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Melody {
    /// The melody track alone, with the piece's tempo, meter and key, at
    /// [`DEFAULT_PPQ`] ticks a quarter.
    pub score: Score,
    /// How many bars it spans.
    pub bars: usize,
}

impl Melody {
    /// The lead melody of `score` (its melody track, or its first track with notes) in its
    /// first `bars` bars.
    pub fn of(score: &Score, bars: usize) -> Self {
        let mut score = score.at_resolution(DEFAULT_PPQ).into_owned();
        let layers = assign_layers(&score);
        let track = layers
            .iter()
            .position(|l| *l == Layer::Melody)
            .or_else(|| score.tracks.iter().position(|t| !t.notes.is_empty()));
        let map = BarMap::new(&score);
        let taken = if track.is_some() {
            map.bars().len().min(bars)
        } else {
            0
        };
        let end = map
            .bars()
            .get(taken.saturating_sub(1))
            .map_or(0, |b| b.end());
        let mut tracks = std::mem::take(&mut score.tracks);
        if let Some(track) = track {
            let mut melody = tracks.swap_remove(track);
            melody.notes.retain(|n| n.start < end);
            melody.notes.sort_by_key(|n| (n.start, n.pitch));
            score.tracks.push(melody);
        }
        score.end_tick = end;
        Self { score, bars: taken }
    }

    /// Its notes, sorted by start.
    pub fn notes(&self) -> &[Note] {
        self.score.tracks.first().map_or(&[], |t| &t.notes[..])
    }

    /// Its [`features`].
    pub fn features(&self) -> Option<Features> {
        features(self.notes(), self.bars)
    }

    /// Its tokens as the models see them, played as the data's tunes are (style `Folk`,
    /// every note at [`DATA_VELOCITY`]: the tunes carry no dynamics, so loudness would
    /// otherwise be all a judge fit on them notices); `None` where the vocabulary cannot
    /// hold it.
    pub fn ids(&self) -> Option<Vec<u32>> {
        let mut score = self.score.clone();
        for note in score.tracks.iter_mut().flat_map(|t| t.notes.iter_mut()) {
            note.velocity = DATA_VELOCITY;
        }
        encode_ids(&score, Style::Folk).ok()
    }
}

/// The held-out (validation-split) melodies of `corpus`, loaded from `dir`, the first
/// `bars` bars of each.
pub fn held_out_melodies(corpus: &Corpus, dir: &Path, bars: usize) -> Vec<Melody> {
    corpus
        .split(Split::Validation)
        .filter_map(|piece| leitmotif_score::read_score(&dir.join(&piece.path)).ok())
        .map(|score| Melody::of(&score, bars))
        .collect()
}

/// Bits per token of `melodies` under `judge` (an n-gram model fit on the training split:
/// an outside judge of how like the data a melody is, beside the human melodies' own value;
/// far lower means more predictable, far higher stranger), and the tokens scored.
pub fn judged_bits(judge: &KneserNey, melodies: &[Melody]) -> (f64, usize) {
    let ids: Vec<Vec<u32>> = melodies.iter().filter_map(Melody::ids).collect();
    judge.bits_per_token(ids.iter().map(Vec::as_slice))
}

/// The meters the default melodies are spread over (the folk data's).
pub const METERS: [(u8, u8); 6] = [(4, 4), (3, 4), (6, 8), (2, 4), (2, 2), (9, 8)];

/// `count` requests as a user leaves them by default, spread over the 12 tonics, major and
/// minor, and [`METERS`]: melody only, `bars` bars, seeds 0.. .
pub fn default_requests(count: usize, bars: u32) -> Vec<Request> {
    (0..count)
        .map(|i| Request {
            key: Some(Scale {
                tonic: PitchClass::from_midi((i * 7 % 12) as u8),
                mode: if i % 2 == 0 {
                    Mode::Major
                } else {
                    Mode::NaturalMinor
                },
            }),
            meter: Some(METERS[i % METERS.len()]),
            bars,
            seed: i as u64,
            ..Request::default()
        })
        .collect()
}

/// Each request's melody as `composer` writes it.
///
/// # Errors
/// What [`Composer::compose`] returns.
pub fn generated_melodies(
    composer: &Composer,
    requests: &[Request],
) -> Result<Vec<Melody>, ComposeError> {
    requests
        .iter()
        .map(|request| {
            let composition = composer.compose(request)?;
            Ok(Melody::of(&composition.score, request.bars as usize))
        })
        .collect()
}

/// The overlapped area of two samples' Gaussian kernel densities (Silverman's bandwidth,
/// at least a 50th of the pooled range so integer-valued features stay smooth).
pub fn overlap(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (lo, hi) = a
        .iter()
        .chain(b)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let floor = ((hi - lo) / 50.0).max(1e-3);
    let bandwidth = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        (1.06 * sd * n.powf(-0.2)).max(floor)
    };
    let (ha, hb) = (bandwidth(a), bandwidth(b));
    let pad = 4.0 * ha.max(hb);
    let (from, to) = (lo - pad, hi + pad);
    let steps = 2000;
    let dx = (to - from) / steps as f64;
    let density = |x: f64, sample: &[f64], h: f64| {
        sample
            .iter()
            .map(|v| (-0.5 * ((x - v) / h).powi(2)).exp())
            .sum::<f64>()
            / (sample.len() as f64 * h * (2.0 * std::f64::consts::PI).sqrt())
    };
    (0..=steps)
        .map(|i| {
            let x = from + i as f64 * dx;
            density(x, a, ha).min(density(x, b, hb)) * dx
        })
        .sum::<f64>()
        .min(1.0)
}

/// One feature's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureReport {
    /// Mean over the generated melodies.
    pub generated_mean: f64,
    /// Mean over the human ones.
    pub human_mean: f64,
    /// Overlapped area of the two distributions.
    pub overlap: f64,
}

/// Every feature's comparison and their mean overlap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Realism {
    /// Generated melodies measured.
    pub generated: usize,
    /// Human melodies measured.
    pub human: usize,
    /// By feature name.
    pub features: BTreeMap<String, FeatureReport>,
    /// The mean of the overlaps.
    pub mean_overlap: f64,
}

/// Compares two sets of melody features.
pub fn compare(generated: &[Features], human: &[Features]) -> Realism {
    let column = |set: &[Features], i: usize| set.iter().map(|f| f[i]).collect::<Vec<f64>>();
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len().max(1) as f64;
    let mut features = BTreeMap::new();
    let mut sum = 0.0;
    for (i, name) in FEATURES.iter().enumerate() {
        let (g, h) = (column(generated, i), column(human, i));
        let report = FeatureReport {
            generated_mean: mean(&g),
            human_mean: mean(&h),
            overlap: overlap(&g, &h),
        };
        sum += report.overlap;
        features.insert((*name).to_owned(), report);
    }
    Realism {
        generated: generated.len(),
        human: human.len(),
        features,
        mean_overlap: sum / FEATURES.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: u64, duration: u64, pitch: u8) -> Note {
        Note {
            start,
            duration,
            pitch,
            velocity: 90,
        }
    }

    #[test]
    fn features_of_a_known_melody() {
        // C C E G (quarter, quarter, half, whole) over two 4/4 bars.
        let notes = [
            note(0, 480, 60),
            note(480, 480, 60),
            note(960, 960, 64),
            note(1920, 1920, 67),
        ];
        let f = features(&notes, 2).unwrap_or_default();
        assert_eq!(f[0], 3.0, "three durations");
        assert_eq!(f[1], 2.0, "two notes a bar");
        assert!((f[2] - 1.0 / 3.0).abs() < 1e-9, "one repeat in three steps");
        assert_eq!(f[3], 7.0, "range C to G");
        assert_eq!(f[4], 3.0, "three pitches");
        assert!((f[6] - 7.0 / 3.0).abs() < 1e-9, "0, 4, 3 semitones");
        assert!((f[7] - 2.0 / 3.0).abs() < 1e-9, "two leaps");
        assert!(features(&notes[..1], 1).is_none());
    }

    #[test]
    fn overlap_is_one_for_the_same_sample_and_small_for_far_ones() {
        let a: Vec<f64> = (0..50).map(|i| f64::from(i % 7)).collect();
        assert!((overlap(&a, &a) - 1.0).abs() < 0.02, "{}", overlap(&a, &a));
        let b: Vec<f64> = a.iter().map(|x| x + 100.0).collect();
        assert!(overlap(&a, &b) < 0.01);
        let c: Vec<f64> = a.iter().map(|x| x + 3.0).collect();
        let partial = overlap(&a, &c);
        assert!(partial > 0.1 && partial < 0.9, "{partial}");
    }
}
