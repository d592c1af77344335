//! Bars with given control tokens, written straight by a model through the composer's own
//! decoder (the grammar, the monophony masks and the sampler), without a request's key,
//! ranges, plan or arrangement. Evaluation uses it to measure how well a model follows its
//! control tokens; it is the same decoding every composition goes through.

use leitmotif_model::TokenDecoder;
use leitmotif_tokens::controls::BarControls;
use leitmotif_tokens::{Layer, Style, Token, bar_units};

use crate::engine::{Engine, GenBar, Item, LayerRule, Rules};
use crate::error::ComposeError;
use crate::request::SamplingSettings;
use crate::session::Session;

/// What [`sample_bars`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct BarPlan {
    /// Style tag.
    pub style: Style,
    /// Tempo bucket (index into [`leitmotif_tokens::vocab::TEMPOS`]).
    pub tempo: u8,
    /// The control tokens of every bar; the piece has exactly this many bars.
    pub bars: Vec<BarControls>,
    /// The layers the model writes in every bar, in this order.
    pub layers: Vec<Layer>,
}

/// Writes a whole piece (`Bos` … `Eos`) under `plan` with `model` (a
/// [`HostTransformer`](leitmotif_model::HostTransformer), or a burn model in a
/// [`BurnDecoder`](leitmotif_model::BurnDecoder)), which sees at most `context` tokens at once
/// (`usize::MAX` for the LSTM), and returns its tokens.
///
/// # Errors
/// [`ComposeError::Request`] for a plan with no bars or a meter the vocabulary lacks; model
/// and sampling errors.
pub fn sample_bars<M: TokenDecoder>(
    model: &M,
    context: usize,
    plan: &BarPlan,
    sampling: SamplingSettings,
    seed: u64,
) -> Result<Vec<Token>, ComposeError> {
    if plan.bars.is_empty() {
        return Err(ComposeError::Request(
            "a plan needs at least one bar".to_owned(),
        ));
    }
    let rules = Rules {
        layers: Layer::ALL
            .iter()
            .map(|&layer| LayerRule {
                range: 0..=127,
                monophonic: matches!(layer, Layer::Melody | Layer::Bass),
            })
            .collect(),
        key_lock: false,
        chord_tones: std::collections::BTreeMap::new(),
    };
    let mut engine = Engine::new(Session::new(model, context), &rules, sampling, seed);
    engine.feed_all(&[
        Token::Bos,
        Token::Style(plan.style),
        Token::Tempo(plan.tempo),
    ])?;
    let mut origin = 0u64;
    for controls in &plan.bars {
        let units = bar_units(controls.meter).ok_or_else(|| {
            ComposeError::Request(format!(
                "meter index {} is not in the vocabulary",
                controls.meter
            ))
        })?;
        engine.write_bar(&GenBar {
            controls: *controls,
            origin,
            intervals: [true; 12],
            arrival: None,
            register_window: false,
            lead: None,
            free: crate::engine::FreeControls::default(),
            items: plan
                .layers
                .iter()
                .map(|&layer| Item::Sample(layer))
                .collect(),
        })?;
        origin += u64::from(units);
    }
    engine.feed(Token::Eos)?;
    Ok(engine.tokens)
}
