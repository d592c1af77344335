//! Wgpu and Flex agree on both models' forward pass.
//!
//! Needs a wgpu adapter; on a machine without a GPU, Mesa's lavapipe (Debian
//! `mesa-vulkan-drivers`) provides one. Without any adapter these tests fail, unless
//! `LEITMOTIF_SKIP_WGPU_TESTS=1` skips them explicitly.

use burn::backend::wgpu::WgpuDevice;
use burn::tensor::{Int, Tensor};
use leitmotif_model::weights::{self, ModelConfig};
use leitmotif_model::{
    CpuBackend, GpuBackend, LanguageModel, MelodyRnnConfig, MotifTransformerConfig, probe_wgpu,
};

fn wgpu_device() -> Option<WgpuDevice> {
    if let Some(adapter) = probe_wgpu().into_iter().next() {
        return Some(adapter.device());
    }
    if std::env::var("LEITMOTIF_SKIP_WGPU_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("no wgpu adapter; skipped because LEITMOTIF_SKIP_WGPU_TESTS=1");
        return None;
    }
    panic!(
        "no wgpu (Vulkan/Metal) adapter found: install Mesa's lavapipe \
         (`apt-get install mesa-vulkan-drivers`) or set LEITMOTIF_SKIP_WGPU_TESTS=1 to skip"
    );
}

/// Runs the same weights on Flex and on Wgpu and compares the logits.
fn assert_backends_agree<C>(config: &C)
where
    C: ModelConfig,
    C::Model<CpuBackend>: LanguageModel<CpuBackend>,
    C::Model<GpuBackend>: LanguageModel<GpuBackend>,
{
    let Some(device) = wgpu_device() else { return };
    let cpu_model = config.init_model::<CpuBackend>(&Default::default());
    let bytes = weights::to_bytes(&cpu_model).unwrap();
    let json = weights::config_json(config);
    let (_, gpu_model) =
        weights::load_bytes::<GpuBackend, C>(json.as_bytes(), bytes, &device).unwrap();

    let ids = [
        [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8],
        [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5],
    ];
    let cpu: Vec<f32> = cpu_model
        .forward(Tensor::<CpuBackend, 2, Int>::from_ints(
            ids,
            &Default::default(),
        ))
        .into_data()
        .to_vec()
        .unwrap();
    let gpu: Vec<f32> = gpu_model
        .forward(Tensor::<GpuBackend, 2, Int>::from_ints(ids, &device))
        .into_data()
        .to_vec()
        .unwrap();
    assert_eq!(cpu.len(), gpu.len());
    let diff = cpu
        .iter()
        .zip(&gpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-3, "Flex and Wgpu logits differ by up to {diff}");
}

#[test]
fn rnn_agrees_with_flex() {
    assert_backends_agree(&MelodyRnnConfig::tiny(20).with_n_layers(2));
}

#[test]
fn transformer_agrees_with_flex() {
    assert_backends_agree(&MotifTransformerConfig::tiny(20));
}
