//! The host LSTM against burn's forward pass on the shipped melody RNN, and [`HostModel`]
//! loading straight from burnpack bytes: the same logits at every position for a prefill
//! then steps, for batches and forked states; weights of the wrong shape or kind and bad
//! input are typed errors.

mod common;

use common::{logits_of_both, max_diff, ragged_and_alone, reference, tune};
use leitmotif_model::source::{MELODY_RNN_CONFIG, MELODY_RNN_WEIGHTS};
use leitmotif_model::weights::{self, load_static};
use leitmotif_model::{
    BatchDecoder, CpuBackend, HostLstm, HostLstmState, HostModel, HostTransformer, MelodyRnn,
    MelodyRnnConfig, ModelError, ModelSource, MotifTransformerConfig, TokenDecoder, WeightsError,
};

type B = CpuBackend;

fn shipped() -> MelodyRnn<B> {
    load_static::<B, MelodyRnnConfig>(MELODY_RNN_CONFIG, MELODY_RNN_WEIGHTS, &Default::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

fn host_rnn() -> HostLstm {
    match HostModel::load(&ModelSource::DefaultRnn) {
        Ok((HostModel::Rnn(model), id)) => {
            assert!(id.starts_with("melody_rnn@"), "{id}");
            model
        }
        other => panic!("not the RNN: {other:?}"),
    }
}

#[test]
fn a_prefill_then_steps_give_burns_logits() {
    let model = shipped();
    let host = host_rnn();
    let rows = vec![tune(80, 0), tune(80, 23), tune(80, 51)];
    let want = reference(&model, &rows);
    let vocab = host.vocab_size();
    // Batch 3: a prefill of 30, then one token per step.
    let mut state = HostLstmState::new();
    let mut logits = Vec::new();
    let prefill: Vec<u32> = rows.iter().flat_map(|r| r[..30].to_vec()).collect();
    host.forward(&prefill, 3, &mut state, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut worst = 0.0f32;
    for t in 29..80 {
        if t > 29 {
            let step: Vec<u32> = rows.iter().map(|r| r[t]).collect();
            host.feed_batch(&mut state, &step, 3, &mut logits)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for b in 0..3 {
            worst = worst.max(max_diff(&logits[b * vocab..(b + 1) * vocab], &want[b][t]));
        }
    }
    assert_eq!(state.len(), 80);
    assert!(worst < 1e-3, "largest logit difference {worst}");
}

#[test]
fn a_prompt_of_one_sequence_in_parts_gives_burns_logits() {
    // One sequence's prompts split their steps over threads; the second carries on from
    // the state the first left, and a step after them is a batch of one again.
    let model = shipped();
    let host = host_rnn();
    let row = tune(60, 17);
    let want = reference(&model, std::slice::from_ref(&row));
    let mut state = HostLstmState::new();
    let mut logits = Vec::new();
    let mut worst = 0.0f32;
    for (from, to) in [(0, 31), (31, 47), (47, 48), (48, 60)] {
        host.feed(&mut state, &row[from..to], &mut logits)
            .unwrap_or_else(|e| panic!("{e}"));
        worst = worst.max(max_diff(&logits, &want[0][to - 1]));
    }
    assert_eq!(state.len(), 60);
    assert!(worst < 1e-3, "largest logit difference {worst}");
}

#[test]
fn the_host_copy_of_a_burn_model_matches_the_one_read_from_bytes() {
    let from_model = HostLstm::from_model(&shipped()).unwrap_or_else(|e| panic!("{e}"));
    let from_bytes = host_rnn();
    let (a, b) = logits_of_both(&from_model, &from_bytes, &tune(40, 3));
    assert_eq!(a, b);
}

#[test]
fn a_forked_state_decodes_on_its_own_and_a_row_can_be_kept() {
    let model = shipped();
    let host = host_rnn();
    let row = tune(50, 9);
    let want = reference(&model, std::slice::from_ref(&row));
    let mut state = HostLstmState::new();
    let mut logits = Vec::new();
    host.feed(&mut state, &row[..20], &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut fork = state.clone();
    host.feed(&mut fork, &row[20..], &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(max_diff(&logits, &want[0][49]) < 1e-3);
    host.feed(&mut state, &[1, 2, 3], &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((state.len(), fork.len()), (23, 50));

    // Two drafts in one batch; keeping the second goes on exactly as that draft alone.
    let other = tune(50, 31);
    let mut batch = HostLstmState::new();
    let both: Vec<u32> = [&other[..25], &row[..25]].concat();
    host.feed_batch(&mut batch, &both, 2, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    batch.select_row(1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch.batch_size(), Some(1));
    host.feed(&mut batch, &row[25..], &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(max_diff(&logits, &want[0][49]) < 1e-3);
}

#[test]
fn bad_input_is_a_typed_error() {
    let host = host_rnn();
    let mut state = HostLstmState::new();
    let mut logits = Vec::new();
    assert_eq!(
        host.forward(&[], 1, &mut state, &mut logits),
        Err(ModelError::Empty)
    );
    assert_eq!(
        host.forward(&[1, 9999], 1, &mut state, &mut logits),
        Err(ModelError::TokenOutOfRange {
            token: 9999,
            vocab_size: host.vocab_size()
        })
    );
    assert!(matches!(
        host.forward(&[1, 2, 3], 2, &mut state, &mut logits),
        Err(ModelError::RaggedBatch { .. })
    ));
    host.forward(&[1, 2], 2, &mut state, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        host.forward(&[1], 1, &mut state, &mut logits),
        Err(ModelError::BatchMismatch { state: 2, input: 1 })
    );
    assert!(state.select_row(2).is_err());
}

#[test]
fn weights_that_do_not_fit_the_config_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let device = Default::default();
    // A transformer's weights under an RNN config, and the RNN's under a wider config.
    let transformer = MotifTransformerConfig::tiny(40).init::<B>(&device);
    let path = dir.path().join("odd.bpk");
    weights::save(&MotifTransformerConfig::tiny(40), &transformer, &path)
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        weights::config_path(&path),
        weights::config_json(&MelodyRnnConfig::tiny(40)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    match HostModel::load(&ModelSource::Path(path.clone())) {
        Err(WeightsError::Mismatch(message)) => assert!(message.contains("missing"), "{message}"),
        other => panic!("{other:?}"),
    }
    let rnn = MelodyRnnConfig::tiny(40).init::<B>(&device);
    weights::save(&MelodyRnnConfig::tiny(40), &rnn, &path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        weights::config_path(&path),
        weights::config_json(&MelodyRnnConfig::tiny(40).with_d_hidden(64)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    match HostModel::load(&ModelSource::Path(path.clone())) {
        Err(WeightsError::Mismatch(message)) => assert!(message.contains("shape"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Not a burnpack; no config; a config that cannot work.
    std::fs::write(&path, b"not weights").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        weights::config_path(&path),
        weights::config_json(&MelodyRnnConfig::tiny(40)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        HostModel::load(&ModelSource::Path(path.clone())),
        Err(WeightsError::Corrupt(_))
    ));
    assert!(matches!(
        HostModel::load(&ModelSource::Path(dir.path().join("missing.bpk"))),
        Err(WeightsError::Read { .. })
    ));
    weights::save(&MelodyRnnConfig::tiny(40), &rnn, &path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        weights::config_path(&path),
        weights::config_json(&MelodyRnnConfig::tiny(40).with_d_hidden(0)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        HostModel::load(&ModelSource::Path(path)),
        Err(WeightsError::InvalidConfig(_))
    ));
}

#[test]
fn both_defaults_load_and_the_transformer_matches_its_burn_copy() {
    let (model, id) =
        HostModel::load(&ModelSource::DefaultTransformer).unwrap_or_else(|e| panic!("{e}"));
    assert!(id.starts_with("motif_transformer@"), "{id}");
    let HostModel::Transformer(from_bytes) = model else {
        panic!("not the transformer")
    };
    assert_eq!(HostModel::Transformer(from_bytes.clone()).context(), 512);
    let burn =
        leitmotif_model::AnyModel::<B>::load(&ModelSource::DefaultTransformer, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .0;
    let leitmotif_model::AnyModel::Transformer(burn, _) = burn else {
        panic!("not the transformer")
    };
    let from_model = HostTransformer::from_model(&burn).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = logits_of_both(&from_model, &from_bytes, &tune(30, 0));
    assert_eq!(a, b);
}

#[test]
fn sequences_of_different_lengths_decode_together_as_they_would_alone() {
    let host = host_rnn();
    let vocab = host.vocab_size();
    let (mut logits, alone, states) = ragged_and_alone(&host);
    assert_eq!(logits.len(), 3 * vocab);
    for (i, want) in alone.iter().enumerate() {
        let diff = max_diff(&logits[i * vocab..(i + 1) * vocab], want);
        assert!(diff < 1e-4, "row {i}: {diff}");
    }
    assert_eq!(
        states.iter().map(HostLstmState::len).collect::<Vec<_>>(),
        [40, 4, 40]
    );
    let mut batched = HostLstmState::new();
    host.forward(&[1, 2], 2, &mut batched, &mut logits)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        host.feed_rows(&mut [(&mut batched, &[1])], &mut logits),
        Err(ModelError::BatchMismatch { state: 2, input: 1 })
    );
    let mut fresh = HostLstmState::new();
    assert_eq!(
        host.feed_rows(&mut [(&mut fresh, &[])], &mut logits),
        Err(ModelError::Empty)
    );
}
