//! How often written bars land on the density, register and intensity asked for: composes
//! a grid of requests (constant values, ramps, and a jump every two bars, in every meter of
//! the vocabulary) and compares each bar's realised controls, measured the way the training
//! data is labelled ([`bar_controls`]), with the buckets the request names.

use std::collections::BTreeMap;

use leitmotif_tokens::vocab::{DENSITY_BOUNDS, METERS, bucket};
use leitmotif_tokens::{Layer, assign_layers, bar_controls, quantize};
use serde::Serialize;

use crate::composer::Composer;
use crate::error::ComposeError;
use crate::request::{Curve, Request, density_bucket, intensity_bucket, register_bucket};

/// One request of the grid: a name for its shape and the three curves.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `constant`, `ramp` or `jump`.
    pub shape: &'static str,
    /// Density per bar.
    pub density: Curve,
    /// Register per bar.
    pub register: Curve,
    /// Intensity per bar.
    pub intensity: Curve,
}

/// The grid for phrases of `bars` bars: density 0.1 to 0.9 by register 0.2, 0.5, 0.8
/// (intensity 0.5); intensity 0.1, 0.5 and 0.9; the three ramped together both ways; and
/// each jumping between a low and a high value every two bars, in both phases.
pub fn cases(bars: u32) -> Vec<Case> {
    let constant = |density, register, intensity| Case {
        shape: "constant",
        density: Curve::Constant(density),
        register: Curve::Constant(register),
        intensity: Curve::Constant(intensity),
    };
    let mut cases = Vec::new();
    for density in [0.1, 0.3, 0.5, 0.7, 0.9] {
        for register in [0.2, 0.5, 0.8] {
            cases.push(constant(density, register, 0.5));
        }
    }
    for intensity in [0.1, 0.9] {
        cases.push(constant(0.5, 0.5, intensity));
    }
    for (from, to) in [(0.1, 0.9), (0.9, 0.1)] {
        cases.push(Case {
            shape: "ramp",
            density: Curve::Ramp { from, to },
            register: Curve::Ramp { from: to, to: from },
            intensity: Curve::Ramp { from, to },
        });
    }
    for phase in [0, 2] {
        let jump = |low: f64, high: f64| {
            Curve::PerBar(
                (0..bars)
                    .map(|i| if (i + phase) / 2 % 2 == 0 { low } else { high })
                    .collect(),
            )
        };
        cases.push(Case {
            shape: "jump",
            density: jump(0.2, 0.8),
            register: jump(0.8, 0.2),
            intensity: jump(0.2, 0.9),
        });
    }
    cases
}

/// Bars that landed in the bucket asked for, and within one bucket of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Hits {
    /// Bars measured.
    pub bars: usize,
    /// In the bucket asked for.
    pub exact: usize,
    /// At most one bucket away.
    pub within_one: usize,
    /// Bars whose bucket no whole number of notes can realise in their meter (a short bar:
    /// in 3/8, 1.5 quarter notes, density bucket 2 needs 1.125 to 1.875 notes); counted
    /// in `bars` and `within_one`, and left out of [`exact_share`](Self::exact_share).
    pub unreachable: usize,
}

impl Hits {
    fn add(&mut self, wanted: u8, got: u8, reachable: bool) {
        self.bars += 1;
        self.exact += usize::from(wanted == got && reachable);
        self.within_one += usize::from(wanted.abs_diff(got) <= 1);
        self.unreachable += usize::from(!reachable);
    }

    /// The share of the bars whose bucket can be met that landed in it (1 when none).
    pub fn exact_share(&self) -> f64 {
        let reachable = self.bars - self.unreachable;
        if reachable == 0 {
            1.0
        } else {
            self.exact as f64 / reachable as f64
        }
    }

    /// The share of all bars at most one bucket from the one asked for.
    pub fn within_one_share(&self) -> f64 {
        if self.bars == 0 {
            1.0
        } else {
            self.within_one as f64 / self.bars as f64
        }
    }
}

/// Whether some whole number of notes in a bar of `quarters` quarter notes has density
/// bucket `density`.
pub fn density_reachable(density: u8, quarters: f64) -> bool {
    (1..=64).any(|n| bucket(Some(f64::from(n) / quarters), &DENSITY_BOUNDS) == density)
}

/// The three controls' hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ControlHits {
    /// Lead-layer onsets per quarter note.
    pub density: Hits,
    /// Lead-layer mean pitch.
    pub register: Hits,
    /// Onsets per second times loudness.
    pub intensity: Hits,
}

/// What [`measure`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Adherence {
    /// Requests composed.
    pub requests: usize,
    /// All bars.
    pub all: ControlHits,
    /// By the grid's shapes (`constant`, `ramp`, `jump`).
    pub by_shape: BTreeMap<String, ControlHits>,
    /// By meter (`"6/8"`).
    pub by_meter: BTreeMap<String, ControlHits>,
    /// The first misses, to look at.
    pub misses: Vec<Miss>,
}

/// A bar that missed a bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// `density`, `register` or `intensity`.
    pub control: &'static str,
    /// The case's shape, meter, seed and bar (from 0).
    pub shape: &'static str,
    /// The meter.
    pub meter: String,
    /// The request's seed.
    pub seed: u64,
    /// The bar.
    pub bar: usize,
    /// The tempo.
    pub bpm: f64,
    /// The bucket asked for, and the one measured.
    pub wanted: u8,
    /// The bucket measured.
    pub got: u8,
}

/// Composes every case of [`cases`] in every meter of `meters` (all the vocabulary's when
/// empty) with `seeds` seeds each, melody only, and measures each bar.
///
/// # Errors
/// What [`Composer::compose`] returns, and a written score that cannot be quantized.
pub fn measure(
    composer: &Composer,
    meters: &[(u8, u8)],
    bars: u32,
    seeds: u64,
) -> Result<Adherence, ComposeError> {
    let meters = if meters.is_empty() {
        &METERS[..]
    } else {
        meters
    };
    let mut result = Adherence::default();
    let mut n = 0u64;
    for &(numerator, denominator) in meters {
        let meter = format!("{numerator}/{denominator}");
        for case in cases(bars) {
            for seed in 0..seeds {
                n += 1;
                let request = Request {
                    density: case.density.clone(),
                    register: case.register.clone(),
                    intensity: case.intensity.clone(),
                    meter: Some((numerator, denominator)),
                    layers: vec![Layer::Melody],
                    bars,
                    seed: n * 7919 + seed,
                    ..Request::default()
                };
                let composition = composer.compose(&request)?;
                result.requests += 1;
                let quantized = quantize(&composition.score)
                    .map_err(|e| ComposeError::Constraint(e.to_string()))?;
                let layers = assign_layers(&quantized);
                let total = bars as usize;
                for (i, got) in bar_controls(&quantized, &layers).iter().enumerate() {
                    let density = density_bucket(request.density.at(i, total));
                    let wanted = [
                        density,
                        register_bucket(request.register.at(i, total)),
                        intensity_bucket(
                            density,
                            request.intensity.at(i, total),
                            composition.tempo_bpm,
                            1,
                        ),
                    ];
                    let found = [got.density, got.register, got.intensity];
                    let quarters = f64::from(numerator) * 4.0 / f64::from(denominator);
                    let reachable = density_reachable(density, quarters);
                    // Intensity follows from the density asked for.
                    let reachable = [reachable, true, reachable];
                    for (c, control) in ["density", "register", "intensity"].into_iter().enumerate()
                    {
                        if wanted[c] != found[c] && reachable[c] && result.misses.len() < 200 {
                            result.misses.push(Miss {
                                control,
                                shape: case.shape,
                                meter: meter.clone(),
                                seed: request.seed,
                                bar: i,
                                bpm: composition.tempo_bpm,
                                wanted: wanted[c],
                                got: found[c],
                            });
                        }
                    }
                    for hits in [
                        &mut result.all,
                        result.by_shape.entry(case.shape.to_owned()).or_default(),
                        result.by_meter.entry(meter.clone()).or_default(),
                    ] {
                        hits.density.add(wanted[0], found[0], reachable[0]);
                        hits.register.add(wanted[1], found[1], reachable[1]);
                        hits.intensity.add(wanted[2], found[2], reachable[2]);
                    }
                }
            }
        }
    }
    Ok(result)
}
