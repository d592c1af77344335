//! Control labels, computed from the music itself so the models learn them from real data.

use leitmotif_score::analysis::pitched_notes;
use leitmotif_score::theory::{Key, estimate_key};
use leitmotif_score::time::{Bar, BarMap, TempoMap};
use leitmotif_score::{Note, Score};
use serde::{Deserialize, Serialize};

use crate::vocab::{
    DENSITY_BOUNDS, INTENSITY_BOUNDS, Layer, REGISTER_BOUNDS, Token, bucket, meter_index,
};

/// The controls placed before one bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BarControls {
    /// Key signature sharps (-7..=7).
    pub sharps: i8,
    /// Minor or major.
    pub minor: bool,
    /// Index into [`crate::vocab::METERS`].
    pub meter: u8,
    /// Lead-layer onsets per quarter note, bucketed ([`DENSITY_BOUNDS`]).
    pub density: u8,
    /// Lead-layer mean pitch, bucketed ([`REGISTER_BOUNDS`]).
    pub register: u8,
    /// All layers' onsets per second times mean velocity / 90, bucketed ([`INTENSITY_BOUNDS`]).
    pub intensity: u8,
}

impl BarControls {
    /// The bar line and the control tokens that open a bar, in grammar order.
    pub fn tokens(&self) -> [Token; 6] {
        [
            Token::Bar,
            Token::Key {
                sharps: self.sharps,
                minor: self.minor,
            },
            Token::Meter(self.meter),
            Token::Density(self.density),
            Token::Register(self.register),
            Token::Intensity(self.intensity),
        ]
    }

    /// The key these controls name.
    pub fn key(&self) -> Option<Key> {
        Key::from_key_signature(self.sharps, self.minor).ok()
    }
}

/// The key signature in force at `tick`, or the piece's estimated key, or C major.
pub fn key_at(score: &Score, tick: u64, fallback: Option<Key>) -> (i8, bool) {
    match score.key_signatures.iter().rev().find(|k| k.tick <= tick) {
        Some(k) => (k.sharps, k.minor),
        None => fallback.map_or((0, false), |key| key.key_signature()),
    }
}

/// The piece's estimated key from all pitched notes (None for a score with no pitches).
pub fn estimated_key(score: &Score) -> Option<Key> {
    let notes = pitched_notes(score);
    estimate_key(&leitmotif_score::analysis::pitch_class_histogram(&notes)).map(|e| e.key)
}

/// The realized controls of every bar of `score`, whose tracks are already assigned to
/// `layers` (one per track, in order). Bars whose meter is not in the vocabulary get meter
/// index `u8::MAX`.
pub fn bar_controls(score: &Score, layers: &[Layer]) -> Vec<BarControls> {
    let bar_map = BarMap::new(score);
    let tempo = TempoMap::new(score);
    let fallback = estimated_key(score);
    let lead = lead_layer(layers);
    let mut lead_notes: Vec<Note> = Vec::new();
    let mut all_notes: Vec<Note> = Vec::new();
    for (track, layer) in score.tracks.iter().zip(layers) {
        if Some(*layer) == lead {
            lead_notes.extend(&track.notes);
        }
        all_notes.extend(&track.notes);
    }
    lead_notes.sort_by_key(|n| n.start);
    all_notes.sort_by_key(|n| n.start);
    bar_map
        .bars()
        .iter()
        .map(|bar| {
            let (sharps, minor) = key_at(score, bar.start, fallback);
            let lead_in = in_bar(&lead_notes, bar);
            let all_in = in_bar(&all_notes, bar);
            let quarters = bar.len as f64 / f64::from(score.ppq);
            let seconds = tempo.seconds(bar.end()) - tempo.seconds(bar.start);
            let density = (!lead_in.is_empty()).then(|| lead_in.len() as f64 / quarters);
            let register = (!lead_in.is_empty()).then(|| {
                lead_in.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / lead_in.len() as f64
            });
            let intensity = (!all_in.is_empty() && seconds > 0.0).then(|| {
                let velocity =
                    all_in.iter().map(|n| f64::from(n.velocity)).sum::<f64>() / all_in.len() as f64;
                all_in.len() as f64 / seconds * velocity / 90.0
            });
            BarControls {
                sharps,
                minor,
                meter: meter_index(bar.meter.numerator, bar.meter.denominator).unwrap_or(u8::MAX),
                density: bucket(density, &DENSITY_BOUNDS),
                register: bucket(register, &REGISTER_BOUNDS),
                intensity: bucket(intensity, &INTENSITY_BOUNDS),
            }
        })
        .collect()
}

/// The layer density and register describe: the melody if there is one, else the first
/// pitched layer present.
pub fn lead_layer(layers: &[Layer]) -> Option<Layer> {
    if layers.contains(&Layer::Melody) {
        return Some(Layer::Melody);
    }
    let mut pitched: Vec<Layer> = layers.iter().copied().filter(|l| l.is_pitched()).collect();
    pitched.sort();
    pitched.first().copied()
}

fn in_bar<'a>(notes: &'a [Note], bar: &Bar) -> &'a [Note] {
    let lo = notes.partition_point(|n| n.start < bar.start);
    let hi = notes.partition_point(|n| n.start < bar.end());
    &notes[lo..hi]
}
