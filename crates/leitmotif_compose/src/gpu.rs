//! The composer's GPU path: a burn model on a wgpu device whose next token is picked on the
//! device by the fused sampling kernel (`leitmotif_model::gpu_sampling`), so that a decoding
//! step reads back one token id instead of a row of logits.
//!
//! The engine hands the decoder its mask, its top-k and its seeded per-draw [`Sampler`];
//! [`GpuSession::pick`] packs the mask, draws the uniform from that sampler exactly as
//! [`Sampler::sample`] would (so a seed gives the same draws on every path) and lets the
//! kernel do what the host would: the top-k cut (same order and ties), then the strategy.
//! The kernel computes in f32 where the host uses f64, so the two can differ only when a
//! draw lands within about 1e-5 of a boundary of the cumulative distribution (see the
//! `gpu_sampling` module). The layer probe and the teacher-forced scores of joins and
//! candidates need the logits themselves and still read them back; [`GpuDecodeStats`]
//! counts both kinds of read-back.

use std::cell::{Cell, RefCell};
use std::sync::{Mutex, PoisonError};

use burn::backend::wgpu::WgpuDevice;
use burn::tensor::Tensor;
use leitmotif_model::backend::WgpuAdapter;
use leitmotif_model::gpu_sampling::{
    GpuSampler, GpuSamplerStats, NarrowedRow, RowRequest, pack_mask,
};
use leitmotif_model::{
    AnyModel, GpuBackend, LanguageModel, ModelError, Sampler, Sampling, SharedWgpu, token_tensor,
};
use leitmotif_tokens::Token;

use crate::error::ComposeError;
use crate::session::{Decoder, Window, narrow_top_k, pick_on_host};

/// The largest `f32` below 1: a uniform drawn in f64 just below 1 must not round up to 1.
const BELOW_ONE: f32 = 1.0 - f32::EPSILON / 2.0;

/// GPU round trips of a composer on wgpu, summed over its compositions (see
/// [`Composer::gpu_stats`](crate::Composer::gpu_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpuDecodeStats {
    /// Tokens the model picked (the tokens it wrote; planned tokens are not picked).
    pub picks: u64,
    /// Of [`picks`](Self::picks), those the fused sampler picked on the device.
    pub fused_picks: u64,
    /// Rows of logits read back to the host: for every pick made on the host, for the layer
    /// probe, and for each token of the teacher-forced scores of joins and candidates.
    pub logits_read_backs: u64,
    /// The fused sampler's own work: one submission and one read-back of token ids per step.
    pub sampler: GpuSamplerStats,
}

impl GpuDecodeStats {
    /// Read-backs of any kind (logits and token ids) per picked token; 0 before any pick.
    pub fn read_backs_per_pick(&self) -> f64 {
        let read_backs = self.logits_read_backs + self.sampler.read_backs;
        if self.picks == 0 {
            0.0
        } else {
            read_backs as f64 / self.picks as f64
        }
    }

    fn add(&mut self, other: &Self) {
        self.picks += other.picks;
        self.fused_picks += other.fused_picks;
        self.logits_read_backs += other.logits_read_backs;
        let (s, o) = (&mut self.sampler, &other.sampler);
        s.steps += o.steps;
        s.rows += o.rows;
        s.submissions += o.submissions;
        s.read_backs += o.read_backs;
        s.bytes_read_back += o.bytes_read_back;
    }
}

/// A burn model loaded on a wgpu device, with what its compositions share.
pub(crate) struct WgpuModel {
    pub model: AnyModel<GpuBackend>,
    pub device: WgpuDevice,
    /// The raw device and queue for the fused sampler; `None` when the composer was given
    /// only a burn device (every pick then reads the logits back).
    shared: Option<SharedWgpu>,
    /// Whether picks use the fused sampler (where there is one).
    pub fused: bool,
    /// Samplers not in use (one per composition running at once).
    idle: Mutex<Vec<GpuSampler>>,
    stats: Mutex<GpuDecodeStats>,
}

impl WgpuModel {
    /// `model` on `device`; `shared` holds the same device's wgpu handles, if known.
    pub(crate) fn new(
        model: AnyModel<GpuBackend>,
        device: WgpuDevice,
        shared: Option<SharedWgpu>,
    ) -> Self {
        Self {
            model,
            device,
            fused: shared.is_some(),
            shared,
            idle: Mutex::new(Vec::new()),
            stats: Mutex::new(GpuDecodeStats::default()),
        }
    }

    /// Whether a fused sampler can be made (the wgpu handles are known).
    pub(crate) fn can_fuse(&self) -> bool {
        self.shared.is_some()
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> GpuDecodeStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Zeroes the counters.
    pub(crate) fn reset_stats(&self) {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = GpuDecodeStats::default();
    }

    /// A decoding context for one composition on `model` (one of `self.model`'s).
    pub(crate) fn context<'m, M: LanguageModel<GpuBackend>>(
        &self,
        model: &'m M,
    ) -> GpuContext<'m, M> {
        let sampler = self
            .fused
            .then(|| self.sampler(model.vocab_size()))
            .flatten();
        GpuContext {
            model,
            device: self.device.clone(),
            sampler: sampler.map(RefCell::new),
            stats: Cell::new(GpuDecodeStats::default()),
        }
    }

    /// Ends a composition: its sampler goes back to the pool, its counters into the sums.
    pub(crate) fn finish<M: LanguageModel<GpuBackend>>(&self, context: GpuContext<'_, M>) {
        let mut stats = context.stats.get();
        if let Some(sampler) = context.sampler {
            let mut sampler = sampler.into_inner();
            stats.sampler = sampler.stats();
            sampler.reset_stats();
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sampler);
        }
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(&stats);
    }

    /// An idle sampler, or a new one; `None` (after a warning) when the device cannot run
    /// the kernel, and picks then read the logits back.
    fn sampler(&self, vocab: usize) -> Option<GpuSampler> {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if reused.is_some() {
            return reused;
        }
        let shared = self.shared.as_ref()?;
        GpuSampler::new(&shared.device, &shared.queue, 1, vocab)
            .inspect_err(|e| {
                tracing::warn!("leitmotif: no fused GPU sampler ({e}); logits are read back");
            })
            .ok()
    }
}

/// What the sessions of one composition share: the model, its device, the fused sampler
/// and the counters.
pub(crate) struct GpuContext<'m, M: LanguageModel<GpuBackend>> {
    model: &'m M,
    device: WgpuDevice,
    /// `None`: picks read the logits back and sample on the host.
    sampler: Option<RefCell<GpuSampler>>,
    stats: Cell<GpuDecodeStats>,
}

impl<M: LanguageModel<GpuBackend>> GpuContext<'_, M> {
    fn count(&self, change: impl FnOnce(&mut GpuDecodeStats)) {
        let mut stats = self.stats.get();
        change(&mut stats);
        self.stats.set(stats);
    }
}

/// A [`Decoder`] on a burn model on wgpu: the logits stay on the device, and picks are made
/// there by the fused sampler.
pub(crate) struct GpuSession<'c, M: LanguageModel<GpuBackend>> {
    context: &'c GpuContext<'c, M>,
    state: M::State,
    window: Window,
    /// The logits after everything the state has seen, on the device (`[1, vocab]`).
    last: Option<Tensor<GpuBackend, 2>>,
    /// `last` read back, when it has been.
    logits: Option<Vec<f32>>,
    /// Whether this session's picks are fused (cleared after a sampler failure).
    fused: bool,
}

impl<M: LanguageModel<GpuBackend>> Clone for GpuSession<'_, M>
where
    M::State: Clone,
{
    fn clone(&self) -> Self {
        Self {
            context: self.context,
            state: self.state.clone(),
            window: self.window.clone(),
            last: self.last.clone(),
            logits: self.logits.clone(),
            fused: self.fused,
        }
    }
}

impl<'c, M: LanguageModel<GpuBackend>> GpuSession<'c, M> {
    /// An empty session, for a model that sees at most `context_len` tokens at once.
    pub(crate) fn new(context: &'c GpuContext<'c, M>, context_len: usize) -> Self {
        Self {
            context,
            state: context.model.new_state(),
            window: Window::new(context_len),
            last: None,
            logits: None,
            fused: context.sampler.is_some(),
        }
    }

    /// Runs the unseen tokens through the model; the logits after them stay on the device.
    fn flush(&mut self) -> Result<&Tensor<GpuBackend, 2>, ComposeError> {
        let model = self.context.model;
        if let Some((restart, tokens)) = self.window.take_unseen() {
            if restart {
                self.state = model.new_state();
            }
            let tokens = token_tensor(&[tokens], model.vocab_size(), &self.context.device)?;
            self.last = Some(model.prefill(tokens, &mut self.state)?);
            self.logits = None;
        }
        self.last
            .as_ref()
            .ok_or(ComposeError::Model(ModelError::Empty))
    }

    /// The fused pick with `uniform` (in `[0, 1)`), or `None` when the sampler failed (the
    /// caller then picks on the host).
    fn pick_fused(
        &mut self,
        mask: &[bool],
        top_k: Option<usize>,
        sampling: Sampling,
        uniform: f64,
    ) -> Result<Option<usize>, ComposeError> {
        let Some(gpu) = &self.context.sampler else {
            return Ok(None);
        };
        let packed = pack_mask(mask);
        let row = NarrowedRow {
            request: RowRequest {
                sampling,
                uniform: (uniform as f32).min(BELOW_ONE),
                mask: Some(&packed),
            },
            top_k,
        };
        let logits = self.flush()?;
        let picked = gpu.borrow_mut().sample_burn_logits_narrowed(logits, &[row]);
        match picked {
            Ok(rows) => match rows.into_iter().next() {
                Some(token) => Ok(Some(token?)),
                None => Ok(None),
            },
            Err(e) => {
                tracing::warn!("leitmotif: fused GPU sampling failed ({e}); logits are read back");
                self.fused = false;
                Ok(None)
            }
        }
    }
}

impl<M: LanguageModel<GpuBackend>> Decoder for GpuSession<'_, M>
where
    M::State: Clone,
{
    fn feed(&mut self, token: Token) {
        self.window.push(token);
    }

    fn logits(&mut self) -> Result<&[f32], ComposeError> {
        self.flush()?;
        if self.logits.is_none()
            && let Some(last) = self.last.clone()
        {
            let row = last
                .into_data()
                .convert::<f32>()
                .to_vec()
                .map_err(|_| ComposeError::Model(ModelError::Empty))?;
            self.context.count(|s| s.logits_read_backs += 1);
            self.logits = Some(row);
        }
        Ok(self.logits.as_deref().unwrap_or_default())
    }

    fn pick(
        &mut self,
        mask: &mut [bool],
        top_k: Option<usize>,
        sampler: &mut Sampler,
    ) -> Result<usize, ComposeError> {
        self.context.count(|s| s.picks += 1);
        if !self.fused {
            return pick_on_host(self.logits()?, mask, top_k, sampler);
        }
        // Drawn where `Sampler::sample` would draw (not for arg-max), from the same seeded
        // stream, so that the host fallback below draws the same too.
        let sampling = sampler.sampling();
        let uniform = match sampling {
            Sampling::ArgMax => 0.0,
            Sampling::TopK { .. } | Sampling::TopP { .. } => sampler.draw_uniform(),
        };
        if let Some(token) = self.pick_fused(mask, top_k, sampling, uniform)? {
            self.context.count(|s| s.fused_picks += 1);
            return Ok(token);
        }
        let logits = self.logits()?;
        narrow_top_k(logits, mask, top_k);
        Ok(sampler.sample_with_uniform(logits, Some(mask), uniform)?)
    }
}

/// Devices [`Composer::load`](crate::Composer::load) opened, by the adapter it resolved to:
/// opened once per process and shared by every composer on that adapter, as burn shares the
/// devices it opens itself (burn keeps a device it registered to the end of the process).
static OPENED: Mutex<Vec<(WgpuAdapter, SharedWgpu, WgpuDevice)>> = Mutex::new(Vec::new());

/// A device on `adapter` (or, failing that, on the best adapter of its kind) with its wgpu
/// handles and its burn device; `None` when no device could be opened.
pub(crate) fn open_shared(adapter: &WgpuAdapter) -> Option<(SharedWgpu, WgpuDevice)> {
    let mut opened = OPENED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, shared, device)) = opened.iter().find(|(a, ..)| a == adapter) {
        return Some((shared.clone(), device.clone()));
    }
    let shared = SharedWgpu::open(!adapter.kind.is_hardware())?;
    let device = shared.clone().into_burn_device();
    opened.push((adapter.clone(), shared.clone(), device.clone()));
    Some((shared, device))
}
