//! Controlled sampling: the model writes the notes, the grammar keeps every sequence
//! decodable, and the requested controls are written by the sampler, not guessed.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use leitmotif_model::{LanguageModel, Sampler, Sampling};
use leitmotif_tokens::grammar::Grammar;
use leitmotif_tokens::{BarControls, Layer, Style, Token, TokenKind, VOCAB_SIZE};

use crate::error::TrainError;

/// Most tokens one bar may take before the sampler closes it at the next chance.
pub const MAX_TOKENS_PER_BAR: usize = 400;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Style tag.
    pub style: Style,
    /// Tempo bucket (index into [`leitmotif_tokens::vocab::TEMPOS`]).
    pub tempo: u8,
    /// The controls of every bar; the piece has exactly this many bars.
    pub bars: Vec<BarControls>,
    /// Layers the model may write (others are masked out).
    pub layers: Vec<Layer>,
}

/// Generates a whole piece (`Bos` … `Eos`) under `plan`, returning its token ids.
///
/// # Errors
/// [`TrainError`] if the model fails or no token is allowed (which the grammar rules out).
pub fn generate<B: Backend, M: LanguageModel<B>>(
    model: &M,
    plan: &Plan,
    sampling: Sampling,
    seed: u64,
) -> Result<Vec<u32>, TrainError> {
    if plan.bars.is_empty() {
        return Err(TrainError::Request(
            "a plan needs at least one bar".to_owned(),
        ));
    }
    let device = model.devices().first().cloned().unwrap_or_default();
    let mut sampler = Sampler::new(sampling, seed);
    let mut grammar = Grammar::new();
    let mut state = model.new_state();
    let head = [
        Token::Bos,
        Token::Style(plan.style),
        Token::Tempo(plan.tempo),
    ];
    let mut ids: Vec<u32> = Vec::new();
    for token in head {
        grammar
            .advance(token)
            .map_err(|e| TrainError::Request(e.to_string()))?;
        ids.push(id(token));
    }
    let prompt = Tensor::<B, 2, Int>::from_ints(
        burn::tensor::TensorData::new(
            ids.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [1, ids.len()],
        ),
        &device,
    );
    let mut logits = model.prefill(prompt, &mut state)?;
    let mut bars_started = 0usize;
    let mut tokens_in_bar = 0usize;
    let mut mask = vec![false; VOCAB_SIZE];
    while !grammar.is_done() {
        let forced = forced_token(&grammar, plan, bars_started, tokens_in_bar);
        let token = match forced {
            Some(token) => token,
            None => {
                for (i, allowed) in mask.iter_mut().enumerate() {
                    *allowed = Token::from_id(i as u32).is_some_and(|t| {
                        grammar.accepts(t) && allowed_by_plan(t, plan, bars_started)
                    });
                }
                let row: Vec<f32> = logits
                    .clone()
                    .into_data()
                    .to_vec()
                    .map_err(|e| TrainError::Request(format!("{e:?}")))?;
                let chosen = sampler.sample(&row, Some(&mask)).map_err(|e| {
                    let recent: Vec<String> = ids
                        .iter()
                        .rev()
                        .take(8)
                        .rev()
                        .filter_map(|&i| Token::from_id(i).map(Token::label))
                        .collect();
                    TrainError::Request(format!(
                        "{e} after {} (expected {:?})",
                        recent.join(" "),
                        grammar.expected()
                    ))
                })?;
                Token::from_id(chosen as u32)
                    .ok_or(TrainError::Request("sampled id out of range".to_owned()))?
            }
        };
        grammar
            .advance(token)
            .map_err(|e| TrainError::Request(e.to_string()))?;
        if token == Token::Bar {
            bars_started += 1;
            tokens_in_bar = 0;
        }
        tokens_in_bar += 1;
        ids.push(id(token));
        if grammar.is_done() {
            break;
        }
        let next = Tensor::<B, 1, Int>::from_ints([id(token) as i32], &device);
        logits = model.step(next, &mut state)?;
    }
    Ok(ids)
}

fn id(token: Token) -> u32 {
    token.id().unwrap_or(0)
}

/// The token the plan dictates next, if any: controls after `Bar`, and `Bar`/`Eos` when a
/// bar has run long.
fn forced_token(
    grammar: &Grammar,
    plan: &Plan,
    bars_started: usize,
    tokens_in_bar: usize,
) -> Option<Token> {
    let expected = grammar.expected();
    let current = bars_started.checked_sub(1).and_then(|i| plan.bars.get(i));
    match expected.first() {
        Some(TokenKind::Key) => current.map(|c| Token::Key {
            sharps: c.sharps,
            minor: c.minor,
        }),
        Some(TokenKind::Meter) => current.map(|c| Token::Meter(c.meter)),
        Some(TokenKind::Density) => current.map(|c| Token::Density(c.density)),
        Some(TokenKind::Register) => current.map(|c| Token::Register(c.register)),
        Some(TokenKind::Intensity) => current.map(|c| Token::Intensity(c.intensity)),
        _ if grammar.at_bar_boundary()
            && (tokens_in_bar > MAX_TOKENS_PER_BAR || bars_started == 0) =>
        {
            Some(if bars_started < plan.bars.len() {
                Token::Bar
            } else {
                Token::Eos
            })
        }
        _ => None,
    }
}

/// Whether the plan allows a sampled token: only planned layers, `Bar` until the last bar
/// is started, `Eos` only after it.
fn allowed_by_plan(token: Token, plan: &Plan, bars_started: usize) -> bool {
    match token {
        Token::Layer(layer) => plan.layers.contains(&layer),
        Token::Bar => bars_started < plan.bars.len(),
        Token::Eos => bars_started >= plan.bars.len(),
        _ => true,
    }
}
