//! A model's decoding session: tokens in, next-token logits out, with the model's state
//! kept here (outside the model), a sliding window for models with a bounded context, and
//! teacher-forced scoring for seams and joins.

use leitmotif_model::{Sampler, TokenDecoder};
use leitmotif_tokens::Token;

use crate::error::ComposeError;

/// Tokens at the start of every piece (`Bos`, style, tempo), kept when the window slides.
const HEAD: usize = 3;

/// What the composer needs from a model: feed tokens, read the logits for the next one or
/// have it pick the next one, and fork (cheaply: the state's tensors are shared until
/// written).
pub(crate) trait Decoder {
    /// Whether forks of this decoder gain from [`update_together`](Self::update_together)
    /// (the host path's batches); others decode their drafts one after another.
    const BATCHES: bool = false;

    /// Appends `token` to the sequence (the model sees it at the next [`logits`](Self::logits)
    /// or [`pick`](Self::pick)).
    fn feed(&mut self, token: Token);
    /// Logits for the token after everything fed.
    fn logits(&mut self) -> Result<&[f32], ComposeError>;
    /// Picks the id of the token after everything fed among those `mask` allows: the
    /// `top_k` likeliest of them when set, then `sampler`'s strategy. The default reads the
    /// logits and samples on the host ([`pick_on_host`], which may narrow `mask`).
    fn pick(
        &mut self,
        mask: &mut [bool],
        top_k: Option<usize>,
        sampler: &mut Sampler,
    ) -> Result<usize, ComposeError> {
        pick_on_host(self.logits()?, mask, top_k, sampler)
    }

    /// Brings every decoder's logits up to date (what [`logits`](Self::logits) would do for
    /// each), in one batch where the model allows: the drafts of `--candidates` decode
    /// together.
    fn update_together(decoders: &mut [&mut Self]) -> Result<(), ComposeError>
    where
        Self: Sized,
    {
        decoders.iter_mut().try_for_each(|d| d.logits().map(|_| ()))
    }
}

/// Picks among the tokens `mask` allows on the host: [`narrow_top_k`], then `sampler`.
pub(crate) fn pick_on_host(
    logits: &[f32],
    mask: &mut [bool],
    top_k: Option<usize>,
    sampler: &mut Sampler,
) -> Result<usize, ComposeError> {
    narrow_top_k(logits, mask, top_k);
    Ok(sampler.sample(logits, Some(mask))?)
}

/// Narrows `mask` to the `top_k` likeliest allowed tokens (logit descending, ties by the
/// lower id), when set.
pub(crate) fn narrow_top_k(logits: &[f32], mask: &mut [bool], top_k: Option<usize>) {
    if let Some(k) = top_k {
        let mut allowed: Vec<(usize, f32)> = mask
            .iter()
            .enumerate()
            .filter(|(_, a)| **a)
            .map(|(i, _)| (i, logits[i]))
            .collect();
        if allowed.len() > k {
            allowed.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for &(i, _) in &allowed[k..] {
                mask[i] = false;
            }
        }
    }
}

/// The tokens of a sequence and how many of them a model's state holds: what to feed next,
/// and where to restart when a model with a bounded context runs out of it.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// Every token fed, in order.
    history: Vec<u32>,
    /// How many of `history` the state has seen.
    seen: usize,
    /// Positions the state holds (below `context`).
    in_state: usize,
    /// The model's context (`usize::MAX` when unbounded).
    context: usize,
}

impl Window {
    /// An empty sequence for a model that sees at most `context` tokens at once.
    pub(crate) fn new(context: usize) -> Self {
        Self {
            history: Vec::new(),
            seen: 0,
            in_state: 0,
            context: context.max(16),
        }
    }

    /// Appends `token`.
    pub(crate) fn push(&mut self, token: Token) {
        self.history.push(token.id().unwrap_or(0));
    }

    /// The tokens the state has not seen, counted as seen from now on, and whether the state
    /// must start afresh before them (the window slid: they are then the piece's head and
    /// its most recent tokens); `None` when the state has seen everything.
    pub(crate) fn take_unseen(&mut self) -> Option<(bool, Vec<u32>)> {
        if self.seen == self.history.len() {
            return None;
        }
        let pending = self.history.len() - self.seen;
        let slide = self.in_state + pending > self.context;
        let window: Vec<u32> = if slide {
            // Slide: the piece's head, then the most recent half-context of tokens.
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
        self.in_state += window.len();
        self.seen = self.history.len();
        Some((slide, window))
    }
}

/// A [`Decoder`] over any [`TokenDecoder`]: the host transformer, or a burn model on any
/// backend.
#[derive(Debug)]
pub(crate) struct Session<'m, M: TokenDecoder> {
    model: &'m M,
    state: M::State,
    window: Window,
    logits: Vec<f32>,
}

impl<M: TokenDecoder> Clone for Session<'_, M> {
    fn clone(&self) -> Self {
        Self {
            model: self.model,
            state: self.state.clone(),
            window: self.window.clone(),
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
            window: Window::new(context),
            logits: Vec::new(),
        }
    }
}

impl<M: TokenDecoder> Decoder for Session<'_, M> {
    const BATCHES: bool = true;

    fn feed(&mut self, token: Token) {
        self.window.push(token);
    }

    fn logits(&mut self) -> Result<&[f32], ComposeError> {
        if let Some((restart, tokens)) = self.window.take_unseen() {
            if restart {
                self.state = self.model.new_state();
            }
            self.model
                .feed(&mut self.state, &tokens, &mut self.logits)?;
        }
        Ok(&self.logits)
    }

    fn update_together(sessions: &mut [&mut Self]) -> Result<(), ComposeError> {
        let Some(model) = sessions.first().map(|s| s.model) else {
            return Ok(());
        };
        let mut waiting: Vec<(&mut M::State, Vec<u32>)> = Vec::new();
        let mut fed = Vec::with_capacity(sessions.len());
        for session in sessions.iter_mut() {
            let unseen = session.window.take_unseen();
            fed.push(unseen.is_some());
            if let Some((restart, tokens)) = unseen {
                if restart {
                    session.state = model.new_state();
                }
                waiting.push((&mut session.state, tokens));
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        let count = waiting.len();
        let mut rows: Vec<(&mut M::State, &[u32])> = waiting
            .iter_mut()
            .map(|(state, tokens)| (&mut **state, tokens.as_slice()))
            .collect();
        let mut logits = Vec::new();
        model.feed_rows(&mut rows, &mut logits)?;
        drop(rows);
        drop(waiting);
        let mut rows = logits.chunks_exact((logits.len() / count).max(1));
        for (session, fed) in sessions.iter_mut().zip(fed) {
            if fed && let Some(row) = rows.next() {
                session.logits.clear();
                session.logits.extend_from_slice(row);
            }
        }
        Ok(())
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
