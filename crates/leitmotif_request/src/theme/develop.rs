//! Developing a theme: requests that condition the composer on it through its own tasks.

use std::str::FromStr;

use leitmotif_score::theory::Scale;
use leitmotif_score::{DEFAULT_PPQ, Note};

use super::fit::{degree_of, pitch_at};
use super::{Theme, ThemeError, ThemeTarget, arranged, statement};
use crate::composition::Composition;
use crate::request::{Curve, Request, Task};

/// How a later phrase develops a theme. Each is a plain [`Request`] for the composer: the
/// model writes new music conditioned on the theme, so nothing repeats verbatim forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Development {
    /// A continuation primed with the statement: the model goes on from the whole theme.
    Continue,
    /// The theme's first half kept, a new second half infilled by the model.
    NewEnding,
    /// The theme's head, then the head a scale step higher (a sequence), the rest infilled.
    Sequence,
    /// The theme's head, then the head inverted (each step mirrored about its first note),
    /// the rest infilled.
    Inversion,
    /// The theme's opening half-bar cell repeated, a scale step lower each time, over the
    /// phrase's first half (fragmentation), the rest infilled.
    Fragment,
}

impl Development {
    /// Every kind, in the order a director cycles through them.
    pub const ALL: [Self; 5] = [
        Self::Continue,
        Self::NewEnding,
        Self::Sequence,
        Self::Inversion,
        Self::Fragment,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Continue => "continue",
            Self::NewEnding => "ending",
            Self::Sequence => "sequence",
            Self::Inversion => "inversion",
            Self::Fragment => "fragment",
        }
    }

    /// Whether the phrase is the whole infilled score (kept head and new bars), rather
    /// than only the bars written after a primer.
    pub fn keeps_head(self) -> bool {
        self != Self::Continue
    }

    /// The ticks of `composition` (made from this kind's request) that are the phrase.
    pub fn phrase_span(self, composition: &Composition) -> (u64, u64) {
        if self.keeps_head() {
            (0, composition.span.1)
        } else {
            composition.span
        }
    }
}

impl FromStr for Development {
    type Err = ThemeError;

    fn from_str(s: &str) -> Result<Self, ThemeError> {
        let word = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|d| d.name() == word || (word == "new-ending" && *d == Self::NewEnding))
            .ok_or(ThemeError::UnknownDevelopment(s.to_owned()))
    }
}

impl std::fmt::Display for Development {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// `pitch` moved `steps` scale steps in `scale`, kept in `range` by octaves.
fn step(pitch: u8, steps: i32, scale: Scale, range: &std::ops::RangeInclusive<u8>) -> u8 {
    let (octave, degree, _) = degree_of(pitch, scale);
    fold(pitch_at(octave, degree as i32 + steps, 0, scale), range)
}

fn fold(mut p: i32, range: &std::ops::RangeInclusive<u8>) -> u8 {
    let (lo, hi) = (i32::from(*range.start()), i32::from(*range.end()));
    while p > hi && p - 12 >= 0 {
        p -= 12;
    }
    while p < lo && p + 12 <= 127 {
        p += 12;
    }
    p.clamp(0, 127) as u8
}

/// The notes of `line` in `[lo, hi)`, moved to start at `at` (cut at `hi`).
fn segment(line: &[Note], lo: u64, hi: u64, at: u64) -> impl Iterator<Item = Note> + '_ {
    line.iter()
        .filter(move |n| n.start >= lo && n.start < hi)
        .map(move |n| Note {
            start: n.start - lo + at,
            duration: n.duration.min(hi - n.start),
            ..*n
        })
}

/// The request for a phrase that develops `theme` as `kind` says, in `target`'s key,
/// tempo, meter and register, over `target.bars` bars (the fitted theme's length when
/// `None`, at least 2). Everything else (layers, density, intensity, sampling, seed) comes
/// from `base`.
///
/// # Errors
/// [`ThemeError::Target`] for a target out of range or a phrase of one bar;
/// [`ThemeError::Arrange`] if the kept bars cannot be harmonised.
pub fn development(
    theme: &Theme,
    kind: Development,
    target: &ThemeTarget,
    base: &Request,
) -> Result<Request, ThemeError> {
    let fitted = theme.fit(target)?;
    let bar = target.meter.ticks_per_bar(DEFAULT_PPQ).max(1);
    let bars = target
        .bars
        .unwrap_or_else(|| u32::try_from(fitted.end_tick / bar).unwrap_or(u32::MAX));
    if bars < 2 {
        return Err(ThemeError::Target(
            "a development needs at least 2 bars: one to recall the theme, one to go on".to_owned(),
        ));
    }
    let target = ThemeTarget {
        bars: Some(bars),
        ..target.clone()
    };
    let mut request = Request {
        key: Some(target.key),
        key_lock: true,
        tempo_bpm: Some(target.bpm),
        meter: Some((target.meter.numerator, target.meter.denominator)),
        register: Curve::Constant(target.register),
        looped: false,
        ..base.clone()
    };
    let n = bars as usize;
    let intensity = base.intensity.at(0, n);
    if kind == Development::Continue {
        let stated = statement(theme, &target, &base.layers, intensity, base.seed)?;
        request.task = Task::Continue {
            primer: stated.score,
        };
        request.bars = bars;
        return Ok(request);
    }
    let line = theme.fit(&target)?.tracks[0].notes.clone();
    let head = u64::from((bars / 4).max(1));
    let scale = target.key;
    let range = &target.range;
    let (material, kept): (Vec<Note>, u64) = match kind {
        Development::NewEnding => {
            let kept = u64::from(bars.div_ceil(2));
            (segment(&line, 0, kept * bar, 0).collect(), kept)
        }
        Development::Sequence | Development::Inversion => {
            let stated: Vec<Note> = segment(&line, 0, head * bar, 0).collect();
            let first = stated.first().map_or(60, |n| n.pitch);
            let (o0, d0, _) = degree_of(first, scale);
            let n0 = o0 * scale.mode.intervals().len() as i32 + d0 as i32;
            let answer = stated.iter().map(|n| {
                let pitch = if kind == Development::Sequence {
                    step(n.pitch, 1, scale, range)
                } else {
                    let (o, d, _) = degree_of(n.pitch, scale);
                    let number = o * scale.mode.intervals().len() as i32 + d as i32;
                    fold(pitch_at(0, 2 * n0 - number, 0, scale), range)
                };
                Note {
                    start: n.start + head * bar,
                    pitch,
                    ..*n
                }
            });
            let material = stated.iter().copied().chain(answer).collect();
            (material, 2 * head)
        }
        Development::Fragment => {
            // Fragmentation takes the first half of the phrase: the cell is short.
            let head = u64::from((bars / 2).max(1));
            let cell_len = (bar / 2).max(1);
            let cell: Vec<Note> = segment(&line, 0, cell_len, 0).collect();
            let mut material = Vec::new();
            for (i, at) in (0..head * bar).step_by(cell_len as usize).enumerate() {
                let steps = -(i as i32);
                material.extend(cell.iter().map(|n| Note {
                    start: n.start + at,
                    pitch: step(n.pitch, steps, scale, range),
                    ..*n
                }));
            }
            (material, head)
        }
        Development::Continue => (Vec::new(), 0),
    };
    // At least the last bar is the model's.
    let kept = kept.min(u64::from(bars) - 1);
    let material: Vec<Note> = material
        .into_iter()
        .filter(|n| n.start < kept * bar)
        .map(|n| Note {
            duration: n.duration.min(kept * bar - n.start),
            ..n
        })
        .collect();
    let length = u64::from(bars) * bar;
    let score = arranged(
        material,
        &target,
        length,
        &base.layers,
        intensity,
        base.seed,
    )?
    .score;
    request.task = Task::Infill {
        score,
        bars: u32::try_from(kept).unwrap_or(1) + 1..=bars,
        layer: None,
    };
    Ok(request)
}
