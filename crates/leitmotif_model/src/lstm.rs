//! A fused LSTM layer: one matmul per time step.
//!
//! burn's built-in `Lstm` runs eight small matmuls per step (one per gate for the input and
//! for the hidden state). [`FusedLstm`] instead projects the input to all four gates for a whole
//! run of steps with one [`Linear`], and the hidden state to all four gates with one more
//! [`Linear`] per step, so each step is a single `[batch, d_hidden] × [d_hidden, 4·d_hidden]`
//! matmul plus elementwise work.
//!
//! Gate order along the last axis is `[input, forget, output, cell]`: the three sigmoid gates
//! are contiguous, so a step needs one sigmoid and one tanh over the gate tensor.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;

/// Steps whose input projection is computed by one matmul.
///
/// burn's autodiff turns the gradient of every slice into a zero tensor the size of the sliced
/// tensor, so slicing one step out of a projection of the whole sequence costs O(sequence) per
/// step in the backward pass. Projecting chunks of this many steps keeps that cost small while
/// the matmuls stay large enough to be efficient.
pub const TIME_CHUNK: usize = 16;

/// Configuration of a [`FusedLstm`] layer.
#[derive(Config, Debug)]
pub struct FusedLstmConfig {
    /// Size of each input vector.
    pub d_input: usize,
    /// Size of the hidden and the cell state.
    pub d_hidden: usize,
    /// Initial value of the forget gate's bias; 1.0 keeps memories by default early in training
    /// (Jozefowicz et al., 2015).
    #[config(default = 1.0)]
    pub forget_bias: f64,
}

impl FusedLstmConfig {
    /// Creates the layer with the initialisation of `torch.nn.LSTM`, `U(-1/√fan_in, 1/√fan_in)`, and the
    /// forget-gate bias set to [`forget_bias`](Self::forget_bias).
    pub fn init<B: Backend>(&self, device: &B::Device) -> FusedLstm<B> {
        let d = self.d_hidden;
        let forget_bias = self.forget_bias;
        let mut input = LinearConfig::new(self.d_input, 4 * d).init(device);
        // `slice_fill` is an operation on the fresh bias: detached and marked again, the
        // result is a trainable leaf, as a parameter must be for burn's autodiff to give it a
        // gradient (and for weights loaded into this module to train).
        input.bias = input.bias.map(|bias| {
            bias.map(|bias| {
                bias.slice_fill(d..2 * d, forget_bias)
                    .detach()
                    .require_grad()
            })
        });
        let recurrent = LinearConfig::new(d, 4 * d).with_bias(false).init(device);
        FusedLstm { input, recurrent }
    }
}

/// An LSTM layer whose four gates are computed by one matmul per time step.
///
/// Create it with [`FusedLstmConfig::init`]. The recurrent state travels outside the layer as
/// an [`LstmState`].
#[derive(Module, Debug)]
pub struct FusedLstm<B: Backend> {
    /// Input projection to the four gates (`[d_input, 4·d_hidden]`), carrying the gate bias.
    pub input: Linear<B>,
    /// Recurrent projection to the four gates (`[d_hidden, 4·d_hidden]`), without bias.
    pub recurrent: Linear<B>,
}

/// The hidden and cell state of one [`FusedLstm`] layer.
#[derive(Debug, Clone)]
pub struct LstmState<B: Backend> {
    /// Hidden state, `[batch, d_hidden]`.
    pub hidden: Tensor<B, 2>,
    /// Cell state, `[batch, d_hidden]`.
    pub cell: Tensor<B, 2>,
}

impl<B: Backend> LstmState<B> {
    /// The all-zero state an LSTM starts from.
    pub fn zeros(batch: usize, d_hidden: usize, device: &B::Device) -> Self {
        Self {
            hidden: Tensor::zeros([batch, d_hidden], device),
            cell: Tensor::zeros([batch, d_hidden], device),
        }
    }

    /// The batch size this state holds.
    pub fn batch_size(&self) -> usize {
        self.hidden.dims()[0]
    }
}

impl<B: Backend> FusedLstm<B> {
    /// Size of the hidden state.
    pub fn d_hidden(&self) -> usize {
        self.recurrent.weight.shape().dims::<2>()[0]
    }

    /// Runs the layer over a time-major sequence, starting from `state`.
    ///
    /// Long sequences are projected in chunks of [`TIME_CHUNK`] steps; callers that already
    /// hold the input in chunks (such as [`MelodyRnn`](crate::MelodyRnn)) should pass them one
    /// at a time to avoid slicing a large tracked tensor at all.
    ///
    /// # Shapes
    ///
    /// - input: `[seq, batch, d_input]`
    /// - state: `[batch, d_hidden]` each
    /// - output: `[seq, batch, d_hidden]`, the hidden state after each step
    ///
    /// # Panics
    ///
    /// If `seq` is zero or the state's batch size differs from the input's.
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        state: LstmState<B>,
    ) -> (Tensor<B, 3>, LstmState<B>) {
        let [seq, batch, _] = input.dims();
        let d = self.d_hidden();
        let LstmState {
            mut hidden,
            mut cell,
        } = state;
        let mut outputs = Vec::with_capacity(seq);
        for start in (0..seq).step_by(TIME_CHUNK) {
            let len = TIME_CHUNK.min(seq - start);
            let chunk = if len == seq {
                input.clone()
            } else {
                input.clone().narrow(0, start, len)
            };
            // [len, batch, 4·d]: the input's share of every gate, for the whole chunk at once.
            let gates_in = self.input.forward(chunk);
            for t in 0..len {
                // [batch, 4·d]
                let gates = gates_in.clone().narrow(0, t, 1).reshape([batch, 4 * d])
                    + self.recurrent.forward(hidden);
                (hidden, cell) = Self::cell_update(gates, cell, d);
                outputs.push(hidden.clone());
            }
        }
        // [seq, batch, d]
        let output = Tensor::stack(outputs, 0);
        (output, LstmState { hidden, cell })
    }

    /// Applies the gate nonlinearities and updates the state.
    ///
    /// # Shapes
    ///
    /// - gates: `[batch, 4·d]` in the order `[input, forget, output, cell]`
    /// - cell: `[batch, d]`
    /// - returns `(hidden, cell)`: `[batch, d]` each
    fn cell_update(
        gates: Tensor<B, 2>,
        cell: Tensor<B, 2>,
        d: usize,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        // [batch, 3·d]: input, forget and output gates.
        let sigmoid_gates = sigmoid(gates.clone().narrow(1, 0, 3 * d));
        // [batch, d]: the candidate cell.
        let candidate = gates.narrow(1, 3 * d, d).tanh();
        let input_gate = sigmoid_gates.clone().narrow(1, 0, d);
        let forget_gate = sigmoid_gates.clone().narrow(1, d, d);
        let output_gate = sigmoid_gates.narrow(1, 2 * d, d);
        let cell = forget_gate * cell + input_gate * candidate;
        let hidden = output_gate * cell.clone().tanh();
        (hidden, cell)
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use burn::tensor::{Distribution, Tolerance};

    type B = CpuBackend;

    /// A reference LSTM step written gate by gate, as in the textbook equations.
    fn reference_step(lstm: &FusedLstm<B>, x: Tensor<B, 2>, state: LstmState<B>) -> LstmState<B> {
        let d = lstm.d_hidden();
        let w_x = lstm.input.weight.val();
        let b = lstm.input.bias.as_ref().map(|b| b.val()).unwrap();
        let w_h = lstm.recurrent.weight.val();
        let gate = |k: usize| {
            x.clone().matmul(w_x.clone().narrow(1, k * d, d))
                + state.hidden.clone().matmul(w_h.clone().narrow(1, k * d, d))
                + b.clone().narrow(0, k * d, d).unsqueeze()
        };
        let i = sigmoid(gate(0));
        let f = sigmoid(gate(1));
        let o = sigmoid(gate(2));
        let g = gate(3).tanh();
        let cell = f * state.cell + i * g;
        LstmState {
            hidden: o * cell.clone().tanh(),
            cell,
        }
    }

    #[test]
    fn matches_gate_by_gate_reference_across_chunks() {
        let device = Default::default();
        let lstm = FusedLstmConfig::new(5, 7).init::<B>(&device);
        let seq = TIME_CHUNK + 3;
        let input = Tensor::<B, 3>::random([seq, 2, 5], Distribution::Normal(0.0, 1.0), &device);
        let (output, last) = lstm.forward(input.clone(), LstmState::zeros(2, 7, &device));
        assert_eq!(output.dims(), [seq, 2, 7]);

        let mut state = LstmState::zeros(2, 7, &device);
        for t in 0..seq {
            let x = input.clone().narrow(0, t, 1).reshape([2, 5]);
            state = reference_step(&lstm, x, state);
            let got = output.clone().narrow(0, t, 1).reshape([2, 7]);
            got.into_data()
                .assert_approx_eq::<f32>(&state.hidden.to_data(), Tolerance::absolute(1e-5));
        }
        last.cell
            .into_data()
            .assert_approx_eq::<f32>(&state.cell.into_data(), Tolerance::absolute(1e-5));
    }

    #[test]
    fn forget_bias_is_set() {
        let device = Default::default();
        let lstm = FusedLstmConfig::new(3, 4).init::<B>(&device);
        let bias = lstm.input.bias.as_ref().unwrap().val().narrow(0, 4, 4);
        bias.into_data().assert_approx_eq::<f32>(
            &Tensor::<B, 1>::ones([4], &device).into_data(),
            Tolerance::absolute(0.0),
        );
    }
}
