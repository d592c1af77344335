//! The host decoding path against burn's forward pass on the shipped transformer: the same
//! logits at every position, for a prefill then single steps, for batches, and for a cache
//! that outgrows the model's context; bad input is a typed error.

mod common;

use common::{max_diff, ragged_and_alone, reference, tune};
use leitmotif_model::source::{MOTIF_TRANSFORMER_CONFIG, MOTIF_TRANSFORMER_WEIGHTS};
use leitmotif_model::weights::load_static;
use leitmotif_model::{
    CpuBackend, HostCache, HostTransformer, ModelError, MotifTransformer, MotifTransformerConfig,
    TokenDecoder,
};

type B = CpuBackend;

fn shipped() -> MotifTransformer<B> {
    let device = Default::default();
    load_static::<B, MotifTransformerConfig>(
        MOTIF_TRANSFORMER_CONFIG,
        MOTIF_TRANSFORMER_WEIGHTS,
        &device,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .1
}

#[test]
fn a_prefill_then_steps_give_burns_logits() {
    let model = shipped();
    let host = HostTransformer::from_model(&model).expect("host weights");
    let rows = vec![tune(96, 0), tune(96, 37)];
    let want = reference(&model, &rows);
    let vocab = host.vocab_size();
    // Batch 2: a prefill of 40, then one token per step.
    let mut cache = HostCache::new();
    let mut logits = Vec::new();
    let prefill: Vec<u32> = rows.iter().flat_map(|r| r[..40].to_vec()).collect();
    host.forward(&prefill, 2, &mut cache, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut worst = 0.0f32;
    for t in 39..96 {
        if t > 39 {
            let step: Vec<u32> = rows.iter().map(|r| r[t]).collect();
            host.forward(&step, 2, &mut cache, &mut logits)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for b in 0..2 {
            worst = worst.max(max_diff(&logits[b * vocab..(b + 1) * vocab], &want[b][t]));
        }
    }
    assert_eq!(cache.len(), 96);
    assert!(worst < 2e-3, "largest logit difference {worst}");
}

#[test]
fn a_forked_cache_decodes_on_its_own() {
    let model = shipped();
    let host = HostTransformer::from_model(&model).expect("host weights");
    let row = tune(60, 5);
    let want = reference(&model, std::slice::from_ref(&row));
    let mut cache = HostCache::new();
    let mut logits = Vec::new();
    host.forward(&row[..30], 1, &mut cache, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut fork = cache.clone();
    // The fork goes on with the tune; the original with something else.
    host.forward(&row[30..], 1, &mut fork, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(max_diff(&logits, &want[0][59]) < 2e-3);
    host.forward(&[1, 2, 3], 1, &mut cache, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((cache.len(), fork.len()), (33, 60));
}

#[test]
fn past_the_context_the_cache_grows_and_positions_go_on() {
    // A tiny model with a context of 16: the cache doubles and rotary angles are computed
    // past the table, matching burn's forward pass over the whole sequence.
    let device = Default::default();
    let model = MotifTransformerConfig::tiny(40)
        .with_max_seq_len(16)
        .init::<B>(&device);
    let host = HostTransformer::from_model(&model).expect("host weights");
    let row: Vec<u32> = (0..40).map(|i| (i * 7 + 3) % 40).collect();
    let want = reference(&model, std::slice::from_ref(&row));
    let mut cache = HostCache::new();
    let mut logits = Vec::new();
    host.forward(&row[..10], 1, &mut cache, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    for t in 10..40 {
        host.forward(&row[t..=t], 1, &mut cache, &mut logits)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(max_diff(&logits, &want[0][t]) < 1e-4, "position {t}");
    }
}

#[test]
fn sequences_of_different_lengths_decode_together_as_they_would_alone() {
    // Ragged rows share the projections and the MLP; each attends over its own cache at
    // its own positions (a long prompt blocked, a few rows one by one).
    let host = HostTransformer::from_model(&shipped()).expect("host weights");
    let vocab = host.vocab_size();
    let (mut logits, alone, states) = ragged_and_alone(&host);
    assert_eq!(logits.len(), 3 * vocab);
    for (i, want) in alone.iter().enumerate() {
        let diff = max_diff(&logits[i * vocab..(i + 1) * vocab], want);
        assert!(diff < 1e-4, "row {i}: {diff}");
    }
    assert_eq!(
        states.iter().map(HostCache::len).collect::<Vec<_>>(),
        [40, 4, 40]
    );
    // A cache of two sequences is not a row of its own.
    let mut batched = HostCache::new();
    host.forward(&[1, 2], 2, &mut batched, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut single = HostCache::new();
    assert!(matches!(
        host.feed_rows(
            &mut [(&mut batched, &[3][..]), (&mut single, &[4][..])],
            &mut logits
        ),
        Err(ModelError::BatchMismatch { .. })
    ));
    assert!(matches!(
        host.feed_rows(&mut [(&mut single, &[][..])], &mut logits),
        Err(ModelError::Empty)
    ));
}

#[test]
fn bad_input_is_a_typed_error() {
    let model = shipped();
    let host = HostTransformer::from_model(&model).expect("host weights");
    let mut cache = HostCache::new();
    let mut logits = Vec::new();
    assert_eq!(
        host.forward(&[], 1, &mut cache, &mut logits),
        Err(ModelError::Empty)
    );
    assert_eq!(
        host.forward(&[1, 9999], 1, &mut cache, &mut logits),
        Err(ModelError::TokenOutOfRange {
            token: 9999,
            vocab_size: host.vocab_size()
        })
    );
    assert!(matches!(
        host.forward(&[1, 2, 3], 2, &mut cache, &mut logits),
        Err(ModelError::RaggedBatch { .. })
    ));
    host.forward(&[1, 2], 2, &mut cache, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        host.forward(&[1], 1, &mut cache, &mut logits),
        Err(ModelError::BatchMismatch { state: 2, input: 1 })
    );
    assert!(cache.select_row(1).is_ok());
    assert_eq!(cache.batch_size(), Some(1));
    assert!(host.forward(&[1], 1, &mut cache, &mut logits).is_ok());
}
