//! [`TokenDecoder`]: what a constrained decoder needs from a model, whichever way it runs:
//! feed tokens, get the next token's logits on the host.

use burn::tensor::backend::Backend;

use crate::error::ModelError;
use crate::host::{HostCache, HostLstm, HostLstmState, HostTransformer};
use crate::language_model::{LanguageModel, token_tensor};

/// A model that decodes one sequence on the host's terms.
pub trait TokenDecoder {
    /// The decoding state (a KV cache or a recurrent state); cloning it forks the sequence.
    type State: Clone;

    /// A fresh, empty state.
    fn new_state(&self) -> Self::State;

    /// Feeds `tokens` (one sequence) after what `state` holds and writes the logits for the
    /// token after them into `logits`.
    ///
    /// # Errors
    /// [`ModelError`] for an empty slice or an id out of range.
    fn feed(
        &self,
        state: &mut Self::State,
        tokens: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError>;

    /// Feeds several sequences at once, each its own tokens after its own state (a state of
    /// one sequence), and writes each one's next-token logits into `logits` (`[rows, vocab]`).
    ///
    /// This default feeds them one after another; the host models override it to read every
    /// matrix once per step for all of them.
    ///
    /// # Errors
    /// As [`feed`](Self::feed).
    fn feed_rows(
        &self,
        rows: &mut [(&mut Self::State, &[u32])],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        logits.clear();
        let mut one = Vec::new();
        for (state, tokens) in rows.iter_mut() {
            self.feed(state, tokens, &mut one)?;
            logits.extend_from_slice(&one);
        }
        Ok(())
    }
}

/// A host model that decodes a batch of sequences in lock step: every matrix is read once
/// per step for all rows.
pub trait BatchDecoder: TokenDecoder {
    /// Number of distinct token ids.
    fn vocab_size(&self) -> usize;

    /// Feeds `seq` tokens to each of `batch` sequences (`tokens` is `[batch, seq]`, row
    /// major) and writes each sequence's next-token logits into `logits` (`[batch, vocab]`).
    ///
    /// # Errors
    /// [`ModelError`] for an empty or ragged batch, an id out of range, or a state that
    /// holds another batch size.
    fn feed_batch(
        &self,
        state: &mut Self::State,
        tokens: &[u32],
        batch: usize,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError>;
}

impl BatchDecoder for HostTransformer {
    fn vocab_size(&self) -> usize {
        HostTransformer::vocab_size(self)
    }

    fn feed_batch(
        &self,
        state: &mut HostCache,
        tokens: &[u32],
        batch: usize,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        self.forward(tokens, batch, state, logits)
    }
}

impl TokenDecoder for HostTransformer {
    type State = HostCache;

    fn new_state(&self) -> HostCache {
        HostCache::new()
    }

    fn feed(
        &self,
        state: &mut HostCache,
        tokens: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        self.forward(tokens, 1, state, logits)
    }

    fn feed_rows(
        &self,
        rows: &mut [(&mut HostCache, &[u32])],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        self.forward_rows(rows, logits)
    }
}

impl BatchDecoder for HostLstm {
    fn vocab_size(&self) -> usize {
        HostLstm::vocab_size(self)
    }

    fn feed_batch(
        &self,
        state: &mut HostLstmState,
        tokens: &[u32],
        batch: usize,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        self.forward(tokens, batch, state, logits)
    }
}

impl TokenDecoder for HostLstm {
    type State = HostLstmState;

    fn new_state(&self) -> HostLstmState {
        HostLstmState::new()
    }

    fn feed(
        &self,
        state: &mut HostLstmState,
        tokens: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        self.forward(tokens, 1, state, logits)
    }

    fn feed_rows(
        &self,
        rows: &mut [(&mut HostLstmState, &[u32])],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        self.forward_rows(rows, logits)
    }
}

/// A burn [`LanguageModel`] on a device, as a [`TokenDecoder`]: every call reads the logits
/// back from the device.
#[derive(Debug)]
pub struct BurnDecoder<'m, B: Backend, M> {
    model: &'m M,
    device: B::Device,
}

impl<'m, B: Backend, M: LanguageModel<B>> BurnDecoder<'m, B, M> {
    /// Decodes with `model` on `device`.
    pub fn new(model: &'m M, device: B::Device) -> Self {
        Self { model, device }
    }

    /// Decodes with `model` on the device its weights are on.
    pub fn on_model_device(model: &'m M) -> Self {
        let device = model.devices().first().cloned().unwrap_or_default();
        Self { model, device }
    }
}

impl<B: Backend, M: LanguageModel<B>> TokenDecoder for BurnDecoder<'_, B, M>
where
    M::State: Clone,
{
    type State = M::State;

    fn new_state(&self) -> M::State {
        self.model.new_state()
    }

    fn feed(
        &self,
        state: &mut M::State,
        tokens: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let tensor = token_tensor(&[tokens], self.model.vocab_size(), &self.device)?;
        let out = self.model.prefill(tensor, state)?;
        *logits = out
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(|_| ModelError::Empty)?;
        Ok(())
    }
}
