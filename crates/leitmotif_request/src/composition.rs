//! What the composer returns: the score, what it is, how it was made, and a check of every
//! hard constraint.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use leitmotif_score::files::write_engine_files;
use leitmotif_score::melody::{ControlValue, Generation};
use leitmotif_score::theory::Scale;
use leitmotif_score::time::{BarMap, Meter};
use leitmotif_score::{MelodyDocument, Score};
use leitmotif_tokens::Layer;

use crate::error::RequestError;

/// Where a layer's notes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Written by the model, token by token, under the masks.
    Model,
    /// Written by the arranger from the melody's harmony.
    Arranger,
    /// A registered theme, fitted to the music playing (see [`crate::theme`]).
    Theme,
}

impl Source {
    /// `"model"`, `"arranger"` or `"theme"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Model => "model",
            Source::Arranger => "arranger",
            Source::Theme => "theme",
        }
    }
}

/// One written layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerReport {
    /// The layer.
    pub layer: Layer,
    /// Who wrote it.
    pub source: Source,
    /// Its track's index in the score.
    pub track: usize,
    /// Notes written in the written bars.
    pub notes: usize,
    /// Its pitch range (absolute MIDI numbers).
    pub range: RangeInclusive<u8>,
    /// Whether its notes never overlap.
    pub monophonic: bool,
}

/// A finished phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Composition {
    /// The music (480 PPQ).
    pub score: Score,
    /// The key of the written bars.
    pub key: Scale,
    /// Tempo in quarter notes per minute.
    pub tempo_bpm: f64,
    /// Meter of the written bars.
    pub meter: Meter,
    /// The written bars, counted from 1.
    pub bars: RangeInclusive<u32>,
    /// Bars in the whole score.
    pub total_bars: u32,
    /// The written bars' span in ticks, `[start, end)`.
    pub span: (u64, u64),
    /// Layers written.
    pub layers: Vec<LayerReport>,
    /// Whether out-of-key pitches were masked.
    pub key_lock: bool,
    /// Allowed pitch classes (index 0 = C) over each written bar's span `[start, end)`.
    pub allowed: Vec<(u64, u64, [bool; 12])>,
    /// Whether the phrase loops.
    pub looped: bool,
    /// The seed.
    pub seed: u64,
    /// The model's identifier.
    pub model: String,
    /// The backend it ran on.
    pub backend: String,
    /// Bits per token of the music after the seam (a loop's first bar after its last, an
    /// infill's next bar after the new ones), for the chosen candidate.
    pub join_bits: Option<f64>,
    /// The same for every candidate drawn, in draw order; or, for whole drafts
    /// (`join_bits` then `None`), the mean bits per token the model gave the tokens each
    /// draft picked, the kept draft being the lowest (empty for a single draft).
    pub candidate_bits: Vec<f64>,
    /// Tokens the model wrote or read.
    pub tokens: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// The controls asked for, for the document's metadata.
    pub controls: BTreeMap<String, ControlValue>,
}

impl Composition {
    /// Checks every hard constraint on the written bars, returning each violation found
    /// (none, by construction).
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.score.validate() {
            out.push(format!("invalid score: {e}"));
        }
        let bar_map = BarMap::new(&self.score);
        if bar_map.len() != self.total_bars as usize {
            out.push(format!("{} bars, not {}", bar_map.len(), self.total_bars));
        }
        for bar in bar_map.bars() {
            if bar.start >= self.span.0 && bar.start < self.span.1 && bar.meter != self.meter {
                out.push(format!(
                    "bar {} is in {}, not {}",
                    bar.index + 1,
                    bar.meter,
                    self.meter
                ));
            }
        }
        let (lo, hi) = self.span;
        for report in &self.layers {
            let Some(track) = self.score.tracks.get(report.track) else {
                out.push(format!("{:?}: no track {}", report.layer, report.track));
                continue;
            };
            let written = track.notes.iter().filter(|n| n.start >= lo && n.start < hi);
            for n in written {
                let at = format!("{:?} note {} at tick {}", report.layer, n.pitch, n.start);
                if !report.range.contains(&n.pitch) {
                    out.push(format!(
                        "{at} outside {}..={}",
                        report.range.start(),
                        report.range.end()
                    ));
                }
                if self.key_lock && report.layer != Layer::Drums {
                    let allowed = self
                        .allowed
                        .iter()
                        .find(|(s, e, _)| n.start >= *s && n.start < *e)
                        .map(|(_, _, a)| a[usize::from(n.pitch % 12)]);
                    if allowed != Some(true) {
                        out.push(format!("{at} is out of key"));
                    }
                }
                if (self.looped || self.span.1 < self.score.end_tick) && n.end() > hi {
                    out.push(format!("{at} sounds past the written bars' end {hi}"));
                }
                if n.velocity == 0 || n.velocity > 127 {
                    out.push(format!("{at} has velocity {}", n.velocity));
                }
            }
            if report.monophonic {
                let mut notes: Vec<_> = track
                    .notes
                    .iter()
                    .filter(|n| n.end() > lo && n.start < hi)
                    .collect();
                notes.sort_by_key(|n| (n.start, n.end()));
                for pair in notes.windows(2) {
                    if pair[1].start < pair[0].end() {
                        out.push(format!(
                            "{:?} notes overlap at ticks {} and {}",
                            report.layer, pair[0].start, pair[1].start
                        ));
                    }
                }
            }
        }
        out
    }

    /// The `.melody.json` document: the score and how to make it again.
    pub fn document(&self) -> MelodyDocument {
        let mut doc = MelodyDocument::new(self.score.clone());
        doc.generation = Some(self.generation());
        doc
    }

    /// What reproduces it: the model, the seed and the controls asked for.
    pub fn generation(&self) -> Generation {
        Generation {
            model: self.model.clone(),
            seed: self.seed,
            controls: self.controls.clone(),
        }
    }

    /// Writes `STEM.mid`, `STEM.melody.json` and `STEM.tone.json` (each atomically, all
    /// encoded before any is written) and returns their paths.
    ///
    /// # Errors
    /// [`leitmotif_score::Error`] if a file cannot be encoded or written.
    pub fn write(&self, stem: &Path) -> Result<Vec<PathBuf>, leitmotif_score::Error> {
        write_engine_files(&[(stem.to_owned(), self.document())])
    }

    /// Fails with the first violation, if any.
    ///
    /// # Errors
    /// [`RequestError::Constraint`].
    pub fn verify(&self) -> Result<(), RequestError> {
        match self.violations().into_iter().next() {
            Some(v) => Err(RequestError::Constraint(v)),
            None => Ok(()),
        }
    }
}
