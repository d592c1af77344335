//! Our models against the PyTorch reference (`scripts/torch_reference.py`, eager PyTorch
//! rebuilding both architectures from the same `.bpk` files): the same logits for the same
//! tokens, from burn's forward pass and from the host decoder. The reference logits are in
//! `tests/fixtures/torch_logits.json` (see its `note` for how they were made); when a Python
//! with torch is set up (`scripts/setup-torch.sh`), the script is also run live.

use std::path::PathBuf;

use burn::tensor::{Int, Tensor, TensorData};
use leitmotif_model::{
    AnyModel, CpuBackend, HostCache, HostTransformer, LanguageModel, ModelSource,
};
use serde_json::Value;

type B = CpuBackend;

/// Largest difference allowed between two float32 implementations of the same network
/// (logits are of order 10; summation order, `erf` and softmax kernels differ).
const TOLERANCE: f32 = 1e-3;

fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../..")
}

fn fixture() -> Value {
    let text = include_str!("fixtures/torch_logits.json");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64())
                .map(|v| v as u32)
                .collect()
        })
        .unwrap_or_default()
}

fn rows(value: &Value) -> Vec<Vec<f32>> {
    value
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(Value::as_f64)
                                .map(|v| v as f32)
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// burn's logits at every position of `tokens`.
fn burn_logits<M: LanguageModel<B>>(model: &M, tokens: &[u32]) -> Vec<Vec<f32>> {
    let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
    let input = Tensor::<B, 2, Int>::from_ints(
        TensorData::new(ids, [1, tokens.len()]),
        &Default::default(),
    );
    let all: Vec<f32> = model
        .forward(input)
        .into_data()
        .to_vec()
        .unwrap_or_default();
    all.chunks_exact(model.vocab_size())
        .map(<[f32]>::to_vec)
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "vocabulary sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn load(name: &str) -> AnyModel<B> {
    let source = ModelSource::parse(name);
    AnyModel::<B>::load(&source, &Default::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

#[test]
fn our_logits_match_pytorchs_on_the_shipped_weights() {
    let fixture = fixture();
    let tokens = ids(&fixture["tokens"]);
    let positions: Vec<usize> = ids(&fixture["positions"])
        .iter()
        .map(|&p| p as usize)
        .collect();
    assert!(!positions.is_empty());
    for name in ["motif_transformer", "melody_rnn"] {
        let want = rows(&fixture["models"][name]);
        assert_eq!(want.len(), positions.len(), "{name}");
        let model = load(name);
        let ours = match &model {
            AnyModel::Rnn(m) => burn_logits(m, &tokens),
            AnyModel::Transformer(m, _) => burn_logits(m, &tokens),
        };
        for (row, &p) in want.iter().zip(&positions) {
            let diff = max_diff(&ours[p], row);
            assert!(diff < TOLERANCE, "{name} (burn) at {p}: {diff}");
        }
        if let AnyModel::Transformer(m, _) = &model {
            // The host decoder, fed one token at a time after a prefill.
            let host = HostTransformer::from_model(m).expect("host weights");
            let mut cache = HostCache::new();
            let mut logits = Vec::new();
            let first = positions[0];
            host.forward(&tokens[..=first], 1, &mut cache, &mut logits)
                .unwrap_or_else(|e| panic!("{e}"));
            for (i, (row, &p)) in want.iter().zip(&positions).enumerate() {
                if i > 0 {
                    host.forward(&tokens[p..=p], 1, &mut cache, &mut logits)
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                let diff = max_diff(&logits, row);
                assert!(diff < TOLERANCE, "{name} (host) at {p}: {diff}");
            }
        }
    }
}

/// With `.venv-torch` set up, the script itself is run on a second sequence (its logits at
/// every position), so a change to either side is caught without regenerating the fixture.
#[test]
fn the_reference_script_agrees_live_when_torch_is_installed() {
    let python = root().join(".venv-torch/bin/python");
    if !python.exists() {
        eprintln!("skipped: no .venv-torch (scripts/setup-torch.sh sets it up)");
        return;
    }
    let tokens: Vec<u32> = ids(&fixture()["tokens"])
        .into_iter()
        .rev()
        .take(24)
        .collect();
    let list: Vec<String> = tokens.iter().map(u32::to_string).collect();
    for name in ["motif_transformer", "melody_rnn"] {
        let output = std::process::Command::new(&python)
            .arg(root().join("scripts/torch_reference.py"))
            .args(["logits", "--model"])
            .arg(root().join(format!("assets/models/{name}.bpk")))
            .args(["--tokens", &list.join(",")])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let value: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
        let want = rows(&value["logits"]);
        let model = load(name);
        let ours = match &model {
            AnyModel::Rnn(m) => burn_logits(m, &tokens),
            AnyModel::Transformer(m, _) => burn_logits(m, &tokens),
        };
        assert_eq!(want.len(), tokens.len());
        for (p, (a, b)) in ours.iter().zip(&want).enumerate() {
            let diff = max_diff(a, b);
            assert!(diff < TOLERANCE, "{name} at {p}: {diff}");
        }
    }
}
