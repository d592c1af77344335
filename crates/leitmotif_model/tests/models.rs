//! Both models on the CPU backends: output shapes, cached decoding against the full forward
//! pass and decoding-state errors. (Training steps are tested in `leitmotif_train`.)

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use leitmotif_model::{
    CpuBackend, KvCache, KvLayout, LanguageModel, MelodyRnnConfig, ModelError,
    MotifTransformerConfig, RnnState,
};

type B = CpuBackend;

const VOCAB: usize = 24;

/// Deterministic pseudo-random token ids.
fn tokens<Bk: Backend>(batch: usize, seq: usize, seed: u64) -> Tensor<Bk, 2, Int> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let ids: Vec<i64> = (0..batch * seq)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % VOCAB as u64) as i64
        })
        .collect();
    Tensor::from_data(TensorData::new(ids, [batch, seq]), &Default::default())
}

fn max_abs_diff(a: Tensor<B, 2>, b: Tensor<B, 2>) -> f32 {
    (a - b).abs().max().into_scalar()
}

/// Decodes `tokens` with a prefill of `prompt_len` tokens and single steps after it, and checks
/// every step's logits against the full forward pass.
fn assert_cached_decoding_matches<M: LanguageModel<B>>(
    model: &M,
    mut state: M::State,
    prompt_len: usize,
) {
    let [batch, seq] = [2, 21];
    let input = tokens::<B>(batch, seq, 3);
    // [batch, seq, vocab]
    let full = model.forward(input.clone());
    let at = |t: usize| full.clone().narrow(1, t, 1).reshape([batch, VOCAB]);

    let logits = model
        .prefill(input.clone().narrow(1, 0, prompt_len), &mut state)
        .unwrap();
    let diff = max_abs_diff(logits, at(prompt_len - 1));
    assert!(diff < 1e-4, "prefill differs from forward by {diff}");
    for t in prompt_len..seq {
        let token = input.clone().narrow(1, t, 1).reshape([batch]);
        let logits = model.step(token, &mut state).unwrap();
        let diff = max_abs_diff(logits, at(t));
        assert!(
            diff < 1e-4,
            "step at position {t} differs from forward by {diff}"
        );
    }
}

#[test]
fn rnn_forward_shape() {
    let model = MelodyRnnConfig::tiny(VOCAB)
        .with_n_layers(2)
        .init::<B>(&Default::default());
    assert_eq!(model.forward(tokens(3, 37, 1)).dims(), [3, 37, VOCAB]);
}

#[test]
fn transformer_forward_shape() {
    let model = MotifTransformerConfig::tiny(VOCAB).init::<B>(&Default::default());
    assert_eq!(model.forward(tokens(3, 37, 1)).dims(), [3, 37, VOCAB]);
}

#[test]
fn rnn_cached_decoding_matches_forward() {
    let model = MelodyRnnConfig::tiny(VOCAB)
        .with_n_layers(2)
        .init::<B>(&Default::default());
    assert_cached_decoding_matches(&model, RnnState::new(), 5);
    // A prompt longer than one time chunk.
    assert_cached_decoding_matches(&model, RnnState::new(), 18);
}

#[test]
fn transformer_cached_decoding_matches_forward() {
    // A trained context of 8 makes the preallocated cache grow while decoding 21 tokens.
    let model = MotifTransformerConfig::tiny(VOCAB)
        .with_max_seq_len(8)
        .init::<B>(&Default::default());
    for layout in [KvLayout::Preallocated, KvLayout::Concat] {
        assert_cached_decoding_matches(&model, KvCache::with_layout(layout), 6);
        assert_cached_decoding_matches(&model, KvCache::with_layout(layout), 1);
    }
}

#[test]
fn prefill_can_extend_a_cache() {
    let model = MotifTransformerConfig::tiny(VOCAB).init::<B>(&Default::default());
    let input = tokens::<B>(1, 12, 5);
    let full = model
        .forward(input.clone())
        .narrow(1, 11, 1)
        .reshape([1, VOCAB]);
    let mut cache = KvCache::new();
    model
        .prefill(input.clone().narrow(1, 0, 7), &mut cache)
        .unwrap();
    let logits = model.prefill(input.narrow(1, 7, 5), &mut cache).unwrap();
    assert_eq!(cache.len(), 12);
    assert!(max_abs_diff(logits, full) < 1e-4);
}

#[test]
fn decoding_state_errors() {
    let device = Default::default();
    let transformer = MotifTransformerConfig::tiny(VOCAB).init::<B>(&device);
    let mut cache = KvCache::new();
    transformer.prefill(tokens(2, 4, 1), &mut cache).unwrap();
    assert_eq!(
        transformer
            .prefill(tokens(3, 4, 1), &mut cache)
            .unwrap_err(),
        ModelError::BatchMismatch { state: 2, input: 3 }
    );
    assert_eq!(
        transformer
            .prefill(Tensor::<B, 2, Int>::zeros([2, 0], &device), &mut cache)
            .unwrap_err(),
        ModelError::Empty
    );

    let rnn = MelodyRnnConfig::tiny(VOCAB).init::<B>(&device);
    let mut state = RnnState::new();
    rnn.prefill(tokens(2, 4, 1), &mut state).unwrap();
    assert_eq!(state.len(), 4);
    assert_eq!(
        rnn.step(Tensor::zeros([1], &device), &mut state)
            .unwrap_err(),
        ModelError::BatchMismatch { state: 2, input: 1 }
    );
    state.reset();
    assert!(rnn.step(Tensor::zeros([1], &device), &mut state).is_ok());
}

#[test]
fn configs_count_parameters_like_burn() {
    use burn::module::Module;
    let device = Default::default();
    let rnn = MelodyRnnConfig::tiny(VOCAB).with_n_layers(2);
    assert_eq!(rnn.num_params(), rnn.init::<B>(&device).num_params());
    let transformer = MotifTransformerConfig::tiny(VOCAB);
    assert_eq!(
        transformer.num_params(),
        transformer.init::<B>(&device).num_params()
    );
}
