//! A model's decoding session: tokens in, next-token logits out, with the model's state
//! kept here (outside the model), a sliding window for models with a bounded context, and
//! teacher-forced scoring for seams and joins.

use leitmotif_model::TokenDecoder;
use leitmotif_tokens::Token;

use crate::error::ComposeError;

/// Tokens at the start of every piece (`Bos`, style, tempo), kept when the window slides.
const HEAD: usize = 3;

/// What the composer needs from a model: feed tokens, read the logits for the next one,
/// and fork (cheaply: the state's tensors are shared until written).
pub(crate) trait Decoder: Clone {
    /// Appends `token` to the sequence (the model sees it at the next [`logits`](Self::logits)).
    fn feed(&mut self, token: Token);
    /// Logits for the token after everything fed.
    fn logits(&mut self) -> Result<&[f32], ComposeError>;
}

/// A [`Decoder`] over any [`TokenDecoder`]: the host transformer, or a burn model on any
/// backend.
#[derive(Debug)]
pub(crate) struct Session<'m, M: TokenDecoder> {
    model: &'m M,
    state: M::State,
    /// Every token fed, in order.
    history: Vec<u32>,
    /// How many of `history` the state has seen.
    seen: usize,
    /// Positions the state holds (below `context`).
    in_state: usize,
    /// The model's context (`usize::MAX` when unbounded).
    context: usize,
    logits: Vec<f32>,
}

impl<M: TokenDecoder> Clone for Session<'_, M> {
    fn clone(&self) -> Self {
        Self {
            model: self.model,
            state: self.state.clone(),
            history: self.history.clone(),
            seen: self.seen,
            in_state: self.in_state,
            context: self.context,
            logits: self.logits.clone(),
        }
    }
}

impl<'m, M: TokenDecoder> Session<'m, M> {
    /// An empty session on `model`, which sees at most `context` tokens at once.
    pub(crate) fn new(model: &'m M, context: usize) -> Self {
        Self {
            model,
            state: model.new_state(),
            history: Vec::new(),
            seen: 0,
            in_state: 0,
            context: context.max(16),
            logits: Vec::new(),
        }
    }

    /// Runs the unseen tokens through the model.
    fn flush(&mut self) -> Result<(), ComposeError> {
        if self.seen == self.history.len() {
            return Ok(());
        }
        let pending = self.history.len() - self.seen;
        let window: Vec<u32> = if self.in_state + pending > self.context {
            // Slide: the piece's head, then the most recent half-context of tokens.
            self.state = self.model.new_state();
            let keep = (self.context / 2).saturating_sub(HEAD);
            let mut tail_start = self.history.len().saturating_sub(keep).max(HEAD);
            // Start the window at a bar line when one comes before the unseen tokens.
            let bar = Token::Bar.id().unwrap_or(0);
            if let Some(offset) = self
                .history
                .get(tail_start..self.seen)
                .and_then(|seen| seen.iter().position(|&id| id == bar))
            {
                tail_start += offset;
            }
            let mut window: Vec<u32> = self.history[..HEAD.min(self.history.len())].to_vec();
            window.extend(&self.history[tail_start..]);
            self.in_state = 0;
            window
        } else {
            self.history[self.seen..].to_vec()
        };
        let len = window.len();
        self.model
            .feed(&mut self.state, &window, &mut self.logits)?;
        self.in_state += len;
        self.seen = self.history.len();
        Ok(())
    }
}

impl<M: TokenDecoder> Decoder for Session<'_, M> {
    fn feed(&mut self, token: Token) {
        self.history.push(token.id().unwrap_or(0));
    }

    fn logits(&mut self) -> Result<&[f32], ComposeError> {
        self.flush()?;
        Ok(&self.logits)
    }
}

/// Natural-log probability of `token` under `logits` (log-softmax).
pub(crate) fn log_prob(logits: &[f32], token: Token) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let id = token.id().map_or(0, |i| i as usize);
    logits
        .get(id)
        .map_or(f64::NEG_INFINITY, |&l| f64::from(l - max) - sum.ln())
}

/// Feeds `tokens` one by one and returns their mean cost in bits per token under the model
/// (teacher forcing): how well they follow what was fed before.
pub(crate) fn score<D: Decoder>(decoder: &mut D, tokens: &[Token]) -> Result<f64, ComposeError> {
    if tokens.is_empty() {
        return Ok(0.0);
    }
    let mut nats = 0.0;
    for &token in tokens {
        nats -= log_prob(decoder.logits()?, token);
        decoder.feed(token);
    }
    Ok(nats / tokens.len() as f64 / std::f64::consts::LN_2)
}
