//! Evaluation: bits per token against the n-gram baseline, and control accuracy.

use std::collections::BTreeMap;

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use leitmotif_compose::{BarPlan, SamplingSettings, sample_bars};
use leitmotif_model::{BurnDecoder, LanguageModel};
use leitmotif_score::theory::Key;
use leitmotif_tokens::controls::estimated_key;
use leitmotif_tokens::ngram::KneserNey;
use leitmotif_tokens::vocab::{DENSITY_BUCKETS, INTENSITY_BUCKETS, REGISTER_BUCKETS, tempo_bucket};
use leitmotif_tokens::{
    BarControls, Corpus, Layer, Split, Style, VOCAB_SIZE, assign_layers, bar_controls, decode,
};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// The n-gram baseline's order.
pub const NGRAM_ORDER: usize = 5;

/// What `leitmotif eval --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Validation tokens scored (every token after each piece's first).
    pub tokens: usize,
    /// The model's bits per token.
    pub model_bits_per_token: f64,
    /// The 5-gram Kneser-Ney baseline's bits per token on the same tokens.
    pub ngram_bits_per_token: f64,
    /// Per control, the share of generated bars whose realized attribute lands in the
    /// requested bucket.
    pub control_accuracy: BTreeMap<String, f64>,
}

/// How many samples control accuracy draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlTrials {
    /// Samples per requested bucket (and per key).
    pub samples: usize,
    /// Bars per sample.
    pub bars: usize,
}

impl Default for ControlTrials {
    fn default() -> Self {
        Self {
            samples: 3,
            bars: 4,
        }
    }
}

/// Bits per token of the model on `pieces`, scoring every token after each piece's first
/// given the piece so far; pieces longer than `window` are scored in overlapping windows
/// that give each token at least half a window of context.
///
/// # Errors
/// [`TrainError::Model`] if the model rejects the input.
pub fn model_bits<B: Backend, M: LanguageModel<B>>(
    model: &M,
    pieces: &[&[u32]],
    window: usize,
) -> Result<(f64, usize), TrainError> {
    let device = model.devices().first().cloned().unwrap_or_default();
    let window = window.max(4);
    let (mut nats, mut count) = (0.0f64, 0usize);
    for piece in pieces {
        let n = piece.len();
        if n < 2 {
            continue;
        }
        // Windows [start, end) and the first target index each one scores.
        let mut start = 0usize;
        let mut scored_from = 1usize;
        loop {
            let end = (start + window).min(n);
            let inputs = &piece[start..end - 1];
            let data = TensorData::new(
                inputs.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                [1, inputs.len()],
            );
            let logits = model.forward(Tensor::<B, 2, Int>::from_ints(data, &device));
            // [1, len, vocab] → log-probabilities of the actual next tokens.
            let targets: Vec<i64> = piece[start + 1..end].iter().map(|&i| i as i64).collect();
            let len = targets.len();
            let picked = log_softmax(logits, 2).gather(
                2,
                Tensor::<B, 3, Int>::from_ints(TensorData::new(targets, [1, len, 1]), &device),
            );
            let values: Vec<f32> = picked
                .into_data()
                .to_vec()
                .map_err(|e| TrainError::Request(format!("{e:?}")))?;
            for (offset, value) in values.iter().enumerate() {
                let target = start + 1 + offset;
                if target >= scored_from {
                    nats -= f64::from(*value);
                    count += 1;
                }
            }
            if end == n {
                break;
            }
            scored_from = end;
            start = end.saturating_sub(window / 2);
        }
    }
    Ok((nats / std::f64::consts::LN_2 / count.max(1) as f64, count))
}

/// The 5-gram baseline fit on the training split, scored on the validation split.
pub fn ngram_bits(corpus: &Corpus) -> (f64, usize) {
    let model = KneserNey::fit(
        NGRAM_ORDER,
        VOCAB_SIZE,
        corpus.split(Split::Train).map(|p| p.ids.as_slice()),
    );
    model.bits_per_token(corpus.split(Split::Validation).map(|p| p.ids.as_slice()))
}

/// Reads one control of a bar.
type Getter = fn(&BarControls) -> u8;
/// Sets one control of a bar.
type Setter = fn(&mut BarControls, u8);

/// A neutral bar: C major, 4/4, middle density, register and intensity.
pub fn neutral_bar() -> BarControls {
    BarControls {
        sharps: 0,
        minor: false,
        meter: 2,
        density: 3,
        register: 5,
        intensity: 4,
    }
}

/// For each control (density, register, intensity, key), generates melodies asking for
/// each value and measures how often the realized attribute matches.
///
/// Density, register and intensity are scored per bar; key per sample, by estimating the
/// key of the generated melody (Krumhansl-Schmuckler) and comparing tonic and mode.
///
/// # Errors
/// [`TrainError`] if generation or decoding fails.
pub fn control_accuracy<B: Backend, M: LanguageModel<B>>(
    model: &M,
    context: usize,
    trials: ControlTrials,
    seed: u64,
) -> Result<BTreeMap<String, f64>, TrainError>
where
    M::State: Clone,
{
    let sampling = SamplingSettings {
        temperature: 1.0,
        top_k: None,
        top_p: Some(0.95),
    };
    let mut out = BTreeMap::new();
    let mut next_seed = seed;
    let decoder = BurnDecoder::on_model_device(model);
    // Generates a melody whose every bar asks for `bar`, and returns it decoded.
    let mut run = |bar: BarControls| -> Result<leitmotif_score::Score, TrainError> {
        let plan = BarPlan {
            style: Style::Folk,
            tempo: tempo_bucket(120.0),
            bars: vec![bar; trials.bars],
            layers: vec![Layer::Melody],
        };
        next_seed = next_seed.wrapping_add(1);
        let tokens = sample_bars(&decoder, context, &plan, sampling, next_seed)?;
        let ids: Vec<u32> = tokens.iter().filter_map(|t| t.id()).collect();
        Ok(decode(&ids)?.score)
    };
    let scalar: [(&str, u8, Getter, Setter); 3] = [
        (
            "density",
            DENSITY_BUCKETS,
            |c| c.density,
            |c, v| c.density = v,
        ),
        (
            "register",
            REGISTER_BUCKETS,
            |c| c.register,
            |c, v| c.register = v,
        ),
        (
            "intensity",
            INTENSITY_BUCKETS,
            |c| c.intensity,
            |c, v| c.intensity = v,
        ),
    ];
    for (name, buckets, get, set) in scalar {
        let (mut hits, mut total) = (0usize, 0usize);
        // Bucket 0 means an empty bar, which no melody asks for.
        for value in 1..buckets {
            for _ in 0..trials.samples {
                let mut bar = neutral_bar();
                set(&mut bar, value);
                let score = run(bar)?;
                for realized in bar_controls(&score, &assign_layers(&score))
                    .iter()
                    .take(trials.bars)
                {
                    hits += usize::from(get(realized) == value);
                    total += 1;
                }
            }
        }
        out.insert(name.to_owned(), hits as f64 / total.max(1) as f64);
    }
    let (mut hits, mut total) = (0usize, 0usize);
    for sharps in -5i8..=5 {
        for minor in [false, true] {
            for _ in 0..trials.samples.div_ceil(2) {
                let bar = BarControls {
                    sharps,
                    minor,
                    ..neutral_bar()
                };
                let wanted = Key::from_key_signature(sharps, minor).ok();
                let score = run(bar)?;
                let realized = estimated_key(&score);
                hits += usize::from(realized.is_some() && realized == wanted);
                total += 1;
            }
        }
    }
    out.insert("key".to_owned(), hits as f64 / total.max(1) as f64);
    Ok(out)
}
