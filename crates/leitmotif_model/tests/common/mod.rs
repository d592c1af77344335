//! What the host-path tests share: a real tune's tokens, burn's full forward pass as the
//! reference, and the largest difference between two rows of logits.

use burn::tensor::{Int, Tensor, TensorData};
use leitmotif_model::{CpuBackend, LanguageModel, TokenDecoder};
use leitmotif_tokens::{Style, encode_ids};

/// A real tune's tokens (the bundled Irish air), `len` of them from `skip` on (repeated).
pub fn tune(len: usize, skip: usize) -> Vec<u32> {
    let bytes = include_bytes!("../../../../assets/examples/folk_the_enchanted_valley.mid");
    let score = leitmotif_score::midi::read_midi(bytes).unwrap_or_else(|e| panic!("{e}"));
    let ids = encode_ids(&score, Style::Folk).unwrap_or_else(|e| panic!("{e}"));
    ids.iter().copied().cycle().skip(skip).take(len).collect()
}

/// burn's full forward pass on the CPU backend: `[rows][position][vocab]`.
pub fn reference<M: LanguageModel<CpuBackend>>(model: &M, rows: &[Vec<u32>]) -> Vec<Vec<Vec<f32>>> {
    let (batch, seq) = (rows.len(), rows[0].len());
    let ids: Vec<i64> = rows.iter().flatten().map(|&t| i64::from(t)).collect();
    let tokens = Tensor::<CpuBackend, 2, Int>::from_ints(
        TensorData::new(ids, [batch, seq]),
        &Default::default(),
    );
    let logits: Vec<f32> = model
        .forward(tokens)
        .into_data()
        .to_vec()
        .unwrap_or_default();
    let vocab = model.vocab_size();
    (0..batch)
        .map(|b| {
            (0..seq)
                .map(|t| logits[(b * seq + t) * vocab..(b * seq + t + 1) * vocab].to_vec())
                .collect()
        })
        .collect()
}

/// The largest absolute difference between two rows of the same length.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The logits two decoders give after the same tokens, fed from fresh states.
#[allow(dead_code, reason = "not every test file compares two decoders")]
pub fn logits_of_both<A: TokenDecoder, B: TokenDecoder>(
    a: &A,
    b: &B,
    row: &[u32],
) -> (Vec<f32>, Vec<f32>) {
    let (mut sa, mut sb) = (a.new_state(), b.new_state());
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    a.feed(&mut sa, row, &mut la)
        .unwrap_or_else(|e| panic!("{e}"));
    b.feed(&mut sb, row, &mut lb)
        .unwrap_or_else(|e| panic!("{e}"));
    (la, lb)
}

/// Three tunes fed as ragged rows in two calls (prefixes of 10, 3 and 25 tokens, then the
/// next 30, 1 and 15), and each fed alone in the same two pieces: the batched call's last
/// logits (`[3, vocab]`), each one's alone, and the batched states.
pub fn ragged_and_alone<D: TokenDecoder>(host: &D) -> (Vec<f32>, [Vec<f32>; 3], [D::State; 3]) {
    let (a, b, c) = (tune(40, 0), tune(40, 13), tune(40, 27));
    let alone = |row: &[u32], split: usize| {
        let mut state = host.new_state();
        let mut logits = Vec::new();
        host.feed(&mut state, &row[..split], &mut logits)
            .unwrap_or_else(|e| panic!("{e}"));
        host.feed(&mut state, &row[split..], &mut logits)
            .unwrap_or_else(|e| panic!("{e}"));
        logits
    };
    let mut states = [host.new_state(), host.new_state(), host.new_state()];
    let mut logits = Vec::new();
    let [sa, sb, sc] = &mut states;
    host.feed_rows(
        &mut [(sa, &a[..10]), (sb, &b[..3]), (sc, &c[..25])],
        &mut logits,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    host.feed_rows(
        &mut [(sa, &a[10..]), (sb, &b[3..4]), (sc, &c[25..])],
        &mut logits,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let alone = [alone(&a, 10), alone(&b[..4], 3), alone(&c, 25)];
    (logits, alone, states)
}
