//! Measures training throughput (forward + backward + Adam step) of both models on
//! `Autodiff<Flex>` and `Autodiff<NdArray>`, and cached decoding throughput on Flex.
//!
//! Run in release: `cargo bench -p leitmotif_train --bench train_step [-- FILTER...]`, where a
//! case runs if its name contains any FILTER (e.g. `train`, `decode`, `rnn`, `ndarray`).
//! `LEITMOTIF_BENCH_STEPS` sets the timed training steps per case (default 3).
#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::{Duration, Instant};

use burn::backend::{Autodiff, Flex, NdArray};
use burn::module::{AutodiffModule, Module};
use burn::optim::AdamConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Int, Tensor};
use leitmotif_model::weights::{ModelConfig, to_bytes};
use leitmotif_model::{
    KvCache, KvLayout, LanguageModel, MelodyRnnConfig, MotifTransformerConfig, RnnState,
    next_token_loss,
};
use leitmotif_train::train_step;

const VOCAB: usize = 400;
const BATCH: usize = 16;
const SEQ: usize = 256;
/// Tokens seen by one full training run, for the time estimate.
const RUN_TOKENS: f64 = 4.0e6;

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let steps: usize = std::env::var("LEITMOTIF_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    println!(
        "threads: rayon {}, batch {BATCH} x seq {SEQ}, vocab {VOCAB}, fastest of {steps} steps",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );
    println!(
        "{:<44} {:>9} {:>8} {:>9} {:>9} {:>10} {:>9}",
        "case", "params", "MB f32", "fwd ms", "step ms", "tokens/s", "4M tok"
    );

    let rnns = [(256, 1), (256, 2), (320, 2), (384, 1), (384, 2)];
    let transformers = [128, 160, 192];
    for (hidden, layers) in rnns {
        let config = MelodyRnnConfig::new(VOCAB)
            .with_d_hidden(hidden)
            .with_n_layers(layers);
        for backend in ["flex", "ndarray"] {
            let name = format!("train rnn h{hidden} x{layers} {backend}");
            if wanted(&name) {
                match backend {
                    "flex" => train_case::<Autodiff<Flex>, _>(&name, &config, steps),
                    _ => train_case::<Autodiff<NdArray>, _>(&name, &config, steps),
                }
            }
        }
    }
    for d_model in transformers {
        let config = MotifTransformerConfig::new(VOCAB).with_d_model(d_model);
        for backend in ["flex", "ndarray"] {
            let name = format!("train transformer d{d_model} L4 H4 {backend}");
            if wanted(&name) {
                match backend {
                    "flex" => train_case::<Autodiff<Flex>, _>(&name, &config, steps),
                    _ => train_case::<Autodiff<NdArray>, _>(&name, &config, steps),
                }
            }
        }
    }

    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>12}",
        "case (Flex, prompt 32, then 256 steps)", "prefill ms", "batch 1 t/s", "batch 4 t/s"
    );
    for (hidden, layers) in [(256, 2), (384, 1)] {
        let name = format!("decode rnn h{hidden} x{layers}");
        if wanted(&name) {
            let config = MelodyRnnConfig::new(VOCAB)
                .with_d_hidden(hidden)
                .with_n_layers(layers);
            let model = config.init::<Flex>(&Default::default());
            decode_case(&name, &model, RnnState::new);
        }
    }
    for d_model in transformers {
        for layout in [KvLayout::Concat, KvLayout::Preallocated] {
            let name = format!("decode transformer d{d_model} {layout:?}");
            if wanted(&name) {
                let config = MotifTransformerConfig::new(VOCAB).with_d_model(d_model);
                let model = config.init::<Flex>(&Default::default());
                decode_case(&name, &model, || KvCache::with_layout(layout));
            }
        }
    }
}

fn random_tokens<B: Backend>(batch: usize, seq: usize, device: &B::Device) -> Tensor<B, 2, Int> {
    Tensor::<B, 2>::random(
        [batch, seq],
        Distribution::Uniform(0.0, VOCAB as f64 - 0.01),
        device,
    )
    .int()
}

fn train_case<B, C>(name: &str, config: &C, steps: usize)
where
    B: AutodiffBackend,
    C: ModelConfig,
    C::Model<B>: LanguageModel<B> + AutodiffModule<B>,
{
    let device = B::Device::default();
    B::seed(&device, 0);
    let mut model = config.init_model::<B>(&device);
    let bytes = to_bytes(&model).map(|b| b.len()).unwrap_or(0);
    let params = model.num_params();
    let mut optimizer = AdamConfig::new().init::<B, C::Model<B>>();
    let batch = random_tokens::<B>(BATCH, SEQ + 1, &device);

    // Forward only (with the loss read back), after one warm-up step.
    (model, _) = train_step(model, &mut optimizer, batch.clone(), 1e-3, None);
    let started = Instant::now();
    let loss = next_token_loss(
        model.forward(batch.clone().narrow(1, 0, SEQ)),
        batch.clone().narrow(1, 1, SEQ),
        None,
    );
    let _ = loss.into_scalar();
    let forward = started.elapsed();

    // The fastest step: other processes on a shared 2-core machine only ever slow one down.
    let mut step = Duration::MAX;
    for _ in 0..steps {
        let started = Instant::now();
        (model, _) = train_step(model, &mut optimizer, batch.clone(), 1e-3, None);
        step = step.min(started.elapsed());
    }
    let tokens_per_s = (BATCH * SEQ) as f64 / step.as_secs_f64();
    println!(
        "{name:<44} {params:>9} {:>8.2} {:>9.0} {:>9.0} {tokens_per_s:>10.0} {:>7.0} min",
        bytes as f64 / 1e6,
        ms(forward),
        ms(step),
        RUN_TOKENS / tokens_per_s / 60.0
    );
}

fn decode_case<M, S>(name: &str, model: &M, new_state: impl Fn() -> S)
where
    M: LanguageModel<Flex, State = S>,
{
    let device = Default::default();
    let mut prefill_ms = 0.0;
    let mut rates = Vec::new();
    for batch in [1, 4] {
        let prompt = random_tokens::<Flex>(batch, 32, &device);
        // Warm-up run.
        let mut state = new_state();
        let _ = model.prefill(prompt.clone(), &mut state);

        let mut state = new_state();
        let started = Instant::now();
        let logits = model.prefill(prompt, &mut state).expect("prefill");
        let _ = logits.into_data();
        if batch == 1 {
            prefill_ms = ms(started.elapsed());
        }
        // 256 steps in 4 rounds; the fastest round counts.
        let mut token = Tensor::<Flex, 1, Int>::zeros([batch], &device);
        let mut best = 0.0f64;
        for _ in 0..4 {
            let started = Instant::now();
            for _ in 0..64 {
                let logits = model.step(token, &mut state).expect("step");
                // Greedy, read back as a generation loop would.
                token = logits.argmax(1).reshape([batch]);
                let _ = token.to_data();
            }
            best = best.max((batch * 64) as f64 / started.elapsed().as_secs_f64());
        }
        rates.push(best);
    }
    println!(
        "{name:<44} {prefill_ms:>12.1} {:>12.0} {:>12.0}",
        rates[0], rates[1]
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
