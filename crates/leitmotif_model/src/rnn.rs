//! [`MelodyRnn`]: an LSTM language model over event tokens, after Magenta's Melody RNN.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use crate::error::ModelError;
use crate::language_model::LanguageModel;
use crate::lstm::{FusedLstm, FusedLstmConfig, LstmState, TIME_CHUNK};

/// Configuration of a [`MelodyRnn`].
#[derive(Config, Debug)]
pub struct MelodyRnnConfig {
    /// Number of distinct token ids.
    pub vocab_size: usize,
    /// Size of the token embedding.
    #[config(default = 128)]
    pub d_embed: usize,
    /// Size of each LSTM layer's hidden and cell state.
    #[config(default = 256)]
    pub d_hidden: usize,
    /// Number of stacked LSTM layers.
    #[config(default = 2)]
    pub n_layers: usize,
    /// Dropout probability on each LSTM layer's output during training.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Initial forget-gate bias of every layer (see [`FusedLstmConfig::forget_bias`]).
    #[config(default = 1.0)]
    pub forget_bias: f64,
}

impl MelodyRnnConfig {
    /// The default size: embedding 128, 2 × 256 LSTM. At a vocabulary of 400: 1.07 M
    /// parameters (4.3 MB of f32), ~3,000 training tokens/s on 2 CPU cores (4 M tokens in
    /// ~22 min).
    pub fn small(vocab_size: usize) -> Self {
        Self::new(vocab_size)
    }

    /// A larger size: embedding 128, 2 × 320 LSTM. At a vocabulary of 400: 1.57 M parameters
    /// (6.3 MB of f32), ~2,550 training tokens/s on 2 CPU cores (4 M tokens in ~26 min).
    pub fn medium(vocab_size: usize) -> Self {
        Self::new(vocab_size).with_d_hidden(320)
    }

    /// A quick-to-train size for tests and experiments: 1 × 128 LSTM.
    pub fn tiny(vocab_size: usize) -> Self {
        Self::new(vocab_size)
            .with_d_embed(64)
            .with_d_hidden(128)
            .with_n_layers(1)
    }

    /// Creates the model with freshly initialised weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MelodyRnn<B> {
        let layers = (0..self.n_layers)
            .map(|layer| {
                let d_input = if layer == 0 {
                    self.d_embed
                } else {
                    self.d_hidden
                };
                FusedLstmConfig::new(d_input, self.d_hidden)
                    .with_forget_bias(self.forget_bias)
                    .init(device)
            })
            .collect();
        MelodyRnn {
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_embed).init(device),
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(self.d_hidden, self.vocab_size).init(device),
        }
    }

    /// Number of trainable parameters a model of this configuration has.
    pub fn num_params(&self) -> usize {
        let (v, e, h) = (self.vocab_size, self.d_embed, self.d_hidden);
        let layers: usize = (0..self.n_layers)
            .map(|layer| {
                let d_input = if layer == 0 { e } else { h };
                (d_input + h) * 4 * h + 4 * h
            })
            .sum();
        v * e + layers + h * v + v
    }
}

/// An LSTM language model: token embedding → stacked [`FusedLstm`] layers → dropout →
/// linear head to vocabulary logits.
///
/// Create it with [`MelodyRnnConfig::init`]. Train with [`forward`](Self::forward) on whole
/// sequences; generate with [`prefill`](Self::prefill) and [`step`](Self::step), which carry the
/// recurrent state in an [`RnnState`] owned by the caller.
#[derive(Module, Debug)]
pub struct MelodyRnn<B: Backend> {
    /// Token embedding, `[vocab, d_embed]`.
    pub embedding: Embedding<B>,
    /// The LSTM layers, bottom first.
    pub layers: Vec<FusedLstm<B>>,
    /// Dropout after every LSTM layer (active only on an autodiff backend).
    pub dropout: Dropout,
    /// Output projection to vocabulary logits.
    pub head: Linear<B>,
}

/// The recurrent state of a [`MelodyRnn`] during generation: one [`LstmState`] per layer.
///
/// A new state is empty; the first [`MelodyRnn::prefill`] or [`MelodyRnn::step`] fills it with
/// zeros for the batch it sees.
#[derive(Debug, Clone)]
pub struct RnnState<B: Backend> {
    layers: Vec<LstmState<B>>,
    len: usize,
}

impl<B: Backend> Default for RnnState<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> RnnState<B> {
    /// An empty state, ready for a new sequence.
    pub fn new() -> Self {
        Self {
            layers: Vec::new(),
            len: 0,
        }
    }

    /// Number of tokens consumed so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no token has been consumed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The per-layer states, bottom layer first (empty before the first token).
    pub fn layers(&self) -> &[LstmState<B>] {
        &self.layers
    }

    /// Forgets everything, as for a new sequence.
    pub fn reset(&mut self) {
        self.layers.clear();
        self.len = 0;
    }
}

impl<B: Backend> MelodyRnn<B> {
    /// Number of distinct token ids.
    pub fn vocab_size(&self) -> usize {
        self.head.weight.shape().dims::<2>()[1]
    }

    /// Size of the LSTM state.
    pub fn d_hidden(&self) -> usize {
        self.head.weight.shape().dims::<2>()[0]
    }

    /// Logits for the next token at every position of a batch of sequences.
    ///
    /// # Shapes
    ///
    /// - tokens: `[batch, seq]`, ids below the vocabulary size
    /// - output: `[batch, seq, vocab]`
    ///
    /// # Panics
    ///
    /// If `seq` is zero; ids out of range may make the backend panic.
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, _seq] = tokens.dims();
        let device = tokens.device();
        let mut states = self.zero_states(batch, &device);
        // [seq, batch, d_hidden]
        let hidden = self.run(tokens, &mut states);
        // [batch, seq, vocab]
        self.head.forward(hidden.swap_dims(0, 1))
    }

    /// Feeds a prompt through the network and returns the logits for the token after it.
    ///
    /// `state` may be empty or carry on from earlier calls.
    ///
    /// # Shapes
    ///
    /// - prompt: `[batch, seq]`
    /// - output: `[batch, vocab]`
    ///
    /// # Errors
    ///
    /// [`ModelError::Empty`] for an empty prompt, [`ModelError::BatchMismatch`] if `state`
    /// holds another batch size.
    pub fn prefill(
        &self,
        prompt: Tensor<B, 2, Int>,
        state: &mut RnnState<B>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        let [batch, seq] = prompt.dims();
        if batch == 0 || seq == 0 {
            return Err(ModelError::Empty);
        }
        self.prepare_state(state, batch, &prompt.device())?;
        // [seq, batch, d_hidden]
        let hidden = self.run(prompt, &mut state.layers);
        state.len += seq;
        // [batch, d_hidden]
        let last = hidden
            .narrow(0, seq - 1, 1)
            .reshape([batch, self.d_hidden()]);
        Ok(self.head.forward(last))
    }

    /// Feeds one token per sequence and returns the logits for the next one.
    ///
    /// # Shapes
    ///
    /// - tokens: `[batch]`
    /// - output: `[batch, vocab]`
    ///
    /// # Errors
    ///
    /// [`ModelError::Empty`] for an empty batch, [`ModelError::BatchMismatch`] if `state`
    /// holds another batch size.
    pub fn step(
        &self,
        tokens: Tensor<B, 1, Int>,
        state: &mut RnnState<B>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        let [batch] = tokens.dims();
        self.prefill(tokens.reshape([batch, 1]), state)
    }

    /// Runs the LSTM stack over `tokens`, a chunk of [`TIME_CHUNK`] steps at a time.
    ///
    /// # Shapes
    ///
    /// - tokens: `[batch, seq]`
    /// - output: `[seq, batch, d_hidden]`, the top layer's hidden states after dropout
    fn run(&self, tokens: Tensor<B, 2, Int>, states: &mut [LstmState<B>]) -> Tensor<B, 3> {
        let [_batch, seq] = tokens.dims();
        // [seq, batch]
        let tokens = tokens.swap_dims(0, 1);
        let mut outputs = Vec::with_capacity(seq.div_ceil(TIME_CHUNK));
        for start in (0..seq).step_by(TIME_CHUNK) {
            let len = TIME_CHUNK.min(seq - start);
            // [len, batch, d_embed]
            let mut x = self.embedding.forward(tokens.clone().narrow(0, start, len));
            for (layer, state) in self.layers.iter().zip(states.iter_mut()) {
                let (output, next) = layer.forward(x, state.clone());
                *state = next;
                // [len, batch, d_hidden]
                x = self.dropout.forward(output);
            }
            outputs.push(x);
        }
        Tensor::cat(outputs, 0)
    }

    fn zero_states(&self, batch: usize, device: &B::Device) -> Vec<LstmState<B>> {
        self.layers
            .iter()
            .map(|layer| LstmState::zeros(batch, layer.d_hidden(), device))
            .collect()
    }

    fn prepare_state(
        &self,
        state: &mut RnnState<B>,
        batch: usize,
        device: &B::Device,
    ) -> Result<(), ModelError> {
        match state.layers.first() {
            None => {
                state.layers = self.zero_states(batch, device);
                state.len = 0;
                Ok(())
            }
            Some(layer) if layer.batch_size() != batch => Err(ModelError::BatchMismatch {
                state: layer.batch_size(),
                input: batch,
            }),
            Some(_) => Ok(()),
        }
    }
}

impl<B: Backend> LanguageModel<B> for MelodyRnn<B> {
    type State = RnnState<B>;

    fn vocab_size(&self) -> usize {
        MelodyRnn::vocab_size(self)
    }

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        MelodyRnn::forward(self, tokens)
    }

    fn new_state(&self) -> RnnState<B> {
        RnnState::new()
    }

    fn prefill(
        &self,
        prompt: Tensor<B, 2, Int>,
        state: &mut RnnState<B>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        MelodyRnn::prefill(self, prompt, state)
    }

    fn step(
        &self,
        tokens: Tensor<B, 1, Int>,
        state: &mut RnnState<B>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        MelodyRnn::step(self, tokens, state)
    }
}
