//! Next-token sampling on the GPU, fused into one compute dispatch.
//!
//! [`GpuSampler`] runs `shaders/sample.wgsl`: for a batch of logit rows it applies the
//! constraint mask, the temperature and arg-max / top-k / top-p, and draws with a uniform
//! supplied per row, exactly as the CPU [`Sampler`](crate::sampling::Sampler) does with
//! [`Sampler::sample_with_uniform`](crate::sampling::Sampler::sample_with_uniform);
//! [`NarrowedRow`] adds a top-k cut before the strategy (a decoder's "top-k, then top-p",
//! which the CPU does by narrowing the mask). Each step uploads the masks and parameters with
//! `queue.write_buffer`, submits one command buffer (one dispatch and one copy into a staging
//! buffer) and maps that staging buffer once: only the token ids (and a status per row) come
//! back, never the logits.
//!
//! The logits either already live in a `wgpu::Buffer` on the same device (the output of a
//! model; see [`GpuSampler::sample_device`] and, for burn tensors,
//! [`GpuSampler::sample_burn_logits`]) or come from a host slice
//! ([`GpuSampler::sample_host`], for tests and benchmarks).
//!
//! The GPU computes in f32 where the CPU sampler uses f64, so the two can pick different
//! tokens only when the uniform lands within about 1e-5 (relative) of a boundary of the
//! cumulative distribution, or a top-p cumulative mass lies that close to `p`.
//!
//! ```no_run
//! # fn demo(device: &wgpu::Device, queue: &wgpu::Queue) -> Result<(), Box<dyn std::error::Error>> {
//! use leitmotif_model::gpu_sampling::{GpuSampler, RowRequest, pack_mask};
//! use leitmotif_model::Sampling;
//!
//! let vocab = 433;
//! let mut sampler = GpuSampler::new(device, queue, 4, vocab)?;
//! let logits = vec![0.0_f32; vocab];
//! let mask = pack_mask(&vec![true; vocab]);
//! let row = RowRequest {
//!     sampling: Sampling::TopP { p: 0.9, temperature: 0.8 },
//!     uniform: 0.25,
//!     mask: Some(&mask),
//! };
//! let tokens = sampler.sample_host(&logits, &[row])?;
//! let token: usize = tokens[0].clone()?;
//! # let _ = token;
//! # Ok(())
//! # }
//! ```

use std::num::NonZeroU64;
use std::sync::mpsc;

use crate::sampling::{Sampling, SamplingError};

/// The kernel's source (WGSL).
pub const SHADER_SOURCE: &str = include_str!("../../../shaders/sample.wgsl");

/// Sorted positions one invocation may own (`CHUNK_MAX` in the shader).
const CHUNK_MAX: usize = 16;
/// Largest sort capacity (16 positions for each of 256 invocations).
const MAX_SORT_CAPACITY: usize = 4096;
/// Bytes of one row's parameters (`RowParams` in the shader).
const PARAMS_BYTES: u64 = 32;
/// Bytes of the `Dims` uniform.
const DIMS_BYTES: u64 = 32;
/// Bytes of one row's result: `vec4<u32>` (token, status, detail, 0).
const RESULT_BYTES: u64 = 16;

const MODE_ARGMAX: u32 = 0;
const MODE_TOP_K: u32 = 1;
const MODE_TOP_P: u32 = 2;

const STATUS_OK: u32 = 0;
const STATUS_ALL_MASKED: u32 = 1;
const STATUS_NON_FINITE: u32 = 2;
const STATUS_BAD_K: u32 = 3;
const STATUS_BAD_P: u32 = 4;
const STATUS_BAD_TEMPERATURE: u32 = 5;
const STATUS_BAD_MODE: u32 = 6;

/// Errors of the GPU sampler itself (per-row sampling errors are [`SamplingError`]s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpuSamplingError {
    /// The vocabulary is empty, or too large for this kernel or this device's workgroup memory.
    #[error("vocabulary of {vocab} tokens is not supported (1..={max} on this device)")]
    VocabSize {
        /// The vocabulary size asked for.
        vocab: usize,
        /// The largest this device supports.
        max: usize,
    },
    /// `max_batch` is zero or above the device's workgroup-count limit.
    #[error("maximum batch of {max_batch} rows is not supported (1..={limit} on this device)")]
    MaxBatch {
        /// The maximum batch asked for.
        max_batch: usize,
        /// The device's limit.
        limit: usize,
    },
    /// A step asked for no rows, or for more than the sampler was sized for.
    #[error("a step samples 1..={max_batch} rows, not {batch}")]
    BatchSize {
        /// The rows asked for.
        batch: usize,
        /// The sampler's maximum.
        max_batch: usize,
    },
    /// The host logits are not `batch * vocab` values.
    #[error("expected {expected} logits (batch x vocabulary), got {actual}")]
    LogitsLength {
        /// `batch * vocab`.
        expected: usize,
        /// The slice's length.
        actual: usize,
    },
    /// A mask is not `ceil(vocab / 32)` words (see [`pack_mask`]).
    #[error("mask of row {row} has {actual} words, expected {expected}")]
    MaskLength {
        /// The row.
        row: usize,
        /// `ceil(vocab / 32)`.
        expected: usize,
        /// The mask's length.
        actual: usize,
    },
    /// A uniform is not in `[0, 1)`.
    #[error("uniform of row {row} is {value}, not in [0, 1)")]
    Uniform {
        /// The row.
        row: usize,
        /// The value.
        value: f32,
    },
    /// The device logits do not fit their buffer, are misaligned, or their rows overlap.
    #[error("device logits: {0}")]
    DeviceLogits(String),
    /// wgpu reported an error (validation, out of memory, internal) while creating the
    /// pipeline or running a step; for example a logits buffer from another device.
    #[error("wgpu error: {0}")]
    Wgpu(String),
    /// Mapping the staging buffer failed.
    #[error("reading the results back failed: {0}")]
    ReadBack(String),
    /// burn's compute server reported an error, or the tensor is not a contiguous f32 `[batch,
    /// vocab]` matrix.
    #[error("burn tensor: {0}")]
    Burn(String),
}

/// What one sampling step asks for, per row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowRequest<'a> {
    /// The strategy (its parameters are checked on the GPU, in the CPU sampler's order).
    pub sampling: Sampling,
    /// The uniform draw in `[0, 1)` (unused by arg-max).
    pub uniform: f32,
    /// Packed constraint mask ([`pack_mask`]), `ceil(vocab / 32)` words; `None` allows every
    /// token.
    pub mask: Option<&'a [u32]>,
}

/// A [`RowRequest`] drawn among the `top_k` likeliest allowed tokens only: what the CPU
/// [`Sampler`](crate::sampling::Sampler) picks after the mask was narrowed to those tokens
/// (logit descending, ties by the lower id), as a constrained decoder's "top-k, then top-p"
/// does.
///
/// For top-p the mass is taken over the kept tokens; top-k keeps `min(k, top_k)`; arg-max
/// is unchanged; `Some(0)` keeps nothing (the row reports
/// [`SamplingError::AllMasked`], as the CPU does with an empty mask).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NarrowedRow<'a> {
    /// The strategy, uniform and mask.
    pub request: RowRequest<'a>,
    /// How many of the likeliest allowed tokens to keep; `None` keeps them all.
    pub top_k: Option<usize>,
}

impl<'a> From<RowRequest<'a>> for NarrowedRow<'a> {
    fn from(request: RowRequest<'a>) -> Self {
        Self {
            request,
            top_k: None,
        }
    }
}

/// Logits already on the GPU: row `r` starts at byte `offset + 4 * r * row_stride` of
/// `buffer` and holds `vocab` consecutive f32 values.
#[derive(Debug, Clone, Copy)]
pub struct DeviceLogits<'a> {
    /// A buffer created on the sampler's device with `STORAGE` usage.
    pub buffer: &'a wgpu::Buffer,
    /// Byte offset of row 0; a multiple of 4.
    pub offset: u64,
    /// Elements between the starts of consecutive rows; at least `vocab`.
    pub row_stride: usize,
}

/// Work counters, so callers can report GPU round trips per decoded token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpuSamplerStats {
    /// Sampling steps run (each submits once and reads back once).
    pub steps: u64,
    /// Rows sampled (tokens decoded, errors included).
    pub rows: u64,
    /// `queue.submit` calls made by the sampler.
    pub submissions: u64,
    /// Staging-buffer read-backs (map + copy out) made by the sampler.
    pub read_backs: u64,
    /// Bytes read back from the GPU.
    pub bytes_read_back: u64,
}

impl GpuSamplerStats {
    /// Submissions per decoded token (`submissions / rows`); 0 before the first step.
    pub fn submissions_per_token(&self) -> f64 {
        ratio(self.submissions, self.rows)
    }

    /// Read-backs per decoded token (`read_backs / rows`); 0 before the first step.
    pub fn read_backs_per_token(&self) -> f64 {
        ratio(self.read_backs, self.rows)
    }
}

#[allow(clippy::cast_precision_loss, reason = "counters far below 2^52")]
fn ratio(count: u64, rows: u64) -> f64 {
    if rows == 0 {
        0.0
    } else {
        count as f64 / rows as f64
    }
}

/// Packs a per-token "allowed" mask into the kernel's bitmask: bit `i % 32` of word `i / 32`
/// is set when token `i` is allowed.
pub fn pack_mask(allowed: &[bool]) -> Vec<u32> {
    let mut words = vec![0_u32; allowed.len().div_ceil(32)];
    for (index, _) in allowed.iter().enumerate().filter(|(_, allowed)| **allowed) {
        words[index / 32] |= 1 << (index % 32);
    }
    words
}

/// Samples token ids on the GPU with persistent buffers sized for `(max_batch, vocab)`.
#[derive(Debug)]
pub struct GpuSampler {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    /// Bind group over the host-logits buffer, made once.
    host_bind_group: wgpu::BindGroup,
    host_logits: wgpu::Buffer,
    masks: wgpu::Buffer,
    params: wgpu::Buffer,
    dims: wgpu::Buffer,
    results: wgpu::Buffer,
    staging: wgpu::Buffer,
    max_batch: usize,
    vocab: usize,
    mask_words: usize,
    /// The device's `min_storage_buffer_offset_alignment` (at least 4).
    storage_alignment: u64,
    /// The device's `max_storage_buffer_binding_size`.
    max_binding_size: u64,
    /// Reused host-side upload scratch.
    mask_scratch: Vec<u32>,
    params_scratch: Vec<u32>,
    stats: GpuSamplerStats,
}

impl GpuSampler {
    /// Compiles the kernel on `device` and allocates buffers for up to `max_batch` rows of
    /// `vocab` logits.
    ///
    /// The sort capacity is `vocab` rounded up to a power of two, at most 4096; the kernel
    /// needs `4 * capacity` bytes of workgroup memory plus 576 (1088 above 2048 tokens):
    /// 2624 bytes for a 433-token vocabulary, and up to 2048 tokens fit WebGPU's default
    /// 16 KiB.
    ///
    /// # Errors
    ///
    /// A size the device or the kernel cannot handle, or a wgpu error while compiling.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        max_batch: usize,
        vocab: usize,
    ) -> Result<Self, GpuSamplingError> {
        let limits = device.limits();
        let capacity = vocab.checked_next_power_of_two().unwrap_or(usize::MAX);
        if vocab == 0 || !fits(&limits, capacity) {
            let max = (0..=MAX_SORT_CAPACITY.trailing_zeros())
                .rev()
                .map(|exponent| 1 << exponent)
                .find(|&capacity| fits(&limits, capacity))
                .unwrap_or(0);
            return Err(GpuSamplingError::VocabSize { vocab, max });
        }
        let batch_limit =
            usize::try_from(limits.max_compute_workgroups_per_dimension).unwrap_or(usize::MAX);
        if max_batch == 0 || max_batch > batch_limit {
            return Err(GpuSamplingError::MaxBatch {
                max_batch,
                limit: batch_limit,
            });
        }
        let mask_words = vocab.div_ceil(32);
        let logits_bytes = bytes_of(max_batch, vocab * 4);
        if logits_bytes > limits.max_storage_buffer_binding_size
            || logits_bytes > limits.max_buffer_size
        {
            return Err(GpuSamplingError::MaxBatch {
                max_batch,
                limit: usize::try_from(
                    limits
                        .max_storage_buffer_binding_size
                        .min(limits.max_buffer_size)
                        / (vocab as u64 * 4),
                )
                .unwrap_or(usize::MAX),
            });
        }

        let scopes = ErrorScopes::push(device);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("leitmotif sample.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER_SOURCE.into()),
        });
        let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("leitmotif sampler bind group layout"),
            entries: &[
                storage(0, true),
                storage(1, true),
                storage(2, true),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: NonZeroU64::new(DIMS_BYTES),
                    },
                    count: None,
                },
                storage(4, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("leitmotif sampler pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        #[allow(clippy::cast_precision_loss, reason = "capacity <= 4096")]
        let constants = [
            ("SORT_CAPACITY", capacity as f64),
            ("WG", f64::from(workgroup_size(capacity))),
        ];
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("leitmotif sampler"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                // The kernel writes every workgroup variable before reading it.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });

        let buffer = |label, size: u64, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(16),
                usage,
                mapped_at_creation: false,
            })
        };
        let upload = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let host_logits = buffer("leitmotif sampler logits", logits_bytes, upload);
        let masks = buffer(
            "leitmotif sampler masks",
            bytes_of(max_batch, mask_words * 4),
            upload,
        );
        let params = buffer(
            "leitmotif sampler params",
            bytes_of(max_batch, PARAMS_BYTES as usize),
            upload,
        );
        let dims = buffer(
            "leitmotif sampler dims",
            DIMS_BYTES,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        let results_bytes = bytes_of(max_batch, RESULT_BYTES as usize);
        let results = buffer(
            "leitmotif sampler results",
            results_bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let staging = buffer(
            "leitmotif sampler staging",
            results_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let host_bind_group = make_bind_group(
            device,
            &layout,
            wgpu::BufferBinding {
                buffer: &host_logits,
                offset: 0,
                size: None,
            },
            [&masks, &params, &dims, &results],
        );
        scopes.pop()?;

        Ok(Self {
            device: device.clone(),
            queue: queue.clone(),
            pipeline,
            layout,
            host_bind_group,
            host_logits,
            masks,
            params,
            dims,
            results,
            staging,
            max_batch,
            vocab,
            mask_words,
            storage_alignment: u64::from(limits.min_storage_buffer_offset_alignment.max(4)),
            max_binding_size: limits.max_storage_buffer_binding_size,
            mask_scratch: Vec::with_capacity(max_batch * mask_words),
            params_scratch: Vec::with_capacity(max_batch * PARAMS_BYTES as usize / 4),
            stats: GpuSamplerStats::default(),
        })
    }

    /// The vocabulary size (logits per row).
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// The most rows one step can sample.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Words per packed mask row: `ceil(vocab / 32)`.
    pub fn mask_words(&self) -> usize {
        self.mask_words
    }

    /// Work done so far.
    pub fn stats(&self) -> GpuSamplerStats {
        self.stats
    }

    /// Zeroes the counters.
    pub fn reset_stats(&mut self) {
        self.stats = GpuSamplerStats::default();
    }

    /// Samples one token per row from logits on the host (`rows.len() * vocab` values, row
    /// after row); they are uploaded with the masks and parameters.
    ///
    /// # Errors
    ///
    /// The outer error is the sampler's (sizes, wgpu); each row then has its own
    /// [`SamplingError`] or token id.
    pub fn sample_host(
        &mut self,
        logits: &[f32],
        rows: &[RowRequest<'_>],
    ) -> Result<Vec<Result<usize, SamplingError>>, GpuSamplingError> {
        self.sample_host_narrowed(logits, &narrow_none(rows))
    }

    /// [`GpuSampler::sample_host`] with a top-k cut per row ([`NarrowedRow`]).
    ///
    /// # Errors
    ///
    /// As [`GpuSampler::sample_host`].
    pub fn sample_host_narrowed(
        &mut self,
        logits: &[f32],
        rows: &[NarrowedRow<'_>],
    ) -> Result<Vec<Result<usize, SamplingError>>, GpuSamplingError> {
        self.check_rows(rows)?;
        let expected = rows.len() * self.vocab;
        if logits.len() != expected {
            return Err(GpuSamplingError::LogitsLength {
                expected,
                actual: logits.len(),
            });
        }
        self.queue
            .write_buffer(&self.host_logits, 0, &f32_bytes(logits));
        let row_stride = u32_of(self.vocab);
        self.run(None, 0, row_stride, rows)
    }

    /// Samples one token per row from logits already on the GPU (same device), without
    /// reading them back.
    ///
    /// Work that produces the logits must have been submitted to the queue before this call
    /// (queue order then makes the kernel see it); with burn, use
    /// [`GpuSampler::sample_burn_logits`], which flushes burn first.
    ///
    /// # Errors
    ///
    /// As [`GpuSampler::sample_host`]; also a buffer too small, misaligned or without
    /// `STORAGE` usage, or (as [`GpuSamplingError::Wgpu`]) one from another device.
    pub fn sample_device(
        &mut self,
        logits: DeviceLogits<'_>,
        rows: &[RowRequest<'_>],
    ) -> Result<Vec<Result<usize, SamplingError>>, GpuSamplingError> {
        self.sample_device_narrowed(logits, &narrow_none(rows))
    }

    /// [`GpuSampler::sample_device`] with a top-k cut per row ([`NarrowedRow`]).
    ///
    /// # Errors
    ///
    /// As [`GpuSampler::sample_device`].
    pub fn sample_device_narrowed(
        &mut self,
        logits: DeviceLogits<'_>,
        rows: &[NarrowedRow<'_>],
    ) -> Result<Vec<Result<usize, SamplingError>>, GpuSamplingError> {
        self.check_rows(rows)?;
        let DeviceLogits {
            buffer,
            offset,
            row_stride,
        } = logits;
        let fail = |reason: String| Err(GpuSamplingError::DeviceLogits(reason));
        if !buffer.usage().contains(wgpu::BufferUsages::STORAGE) {
            return fail("the buffer lacks STORAGE usage".into());
        }
        if offset % 4 != 0 {
            return fail(format!("offset {offset} is not a multiple of 4"));
        }
        if row_stride < self.vocab {
            return fail(format!(
                "row stride {row_stride} is below the vocabulary size {}",
                self.vocab
            ));
        }
        // Elements from row 0's first logit to past the last row's last one.
        let span = (rows.len() as u64 - 1)
            .checked_mul(row_stride as u64)
            .and_then(|elements| elements.checked_add(self.vocab as u64))
            .and_then(|elements| elements.checked_mul(4));
        let end = span.and_then(|bytes| bytes.checked_add(offset));
        let Some(end) = end.filter(|&end| end <= buffer.size()) else {
            return fail(format!(
                "{} rows of stride {row_stride} from byte {offset} do not fit a {}-byte buffer",
                rows.len(),
                buffer.size()
            ));
        };
        // Bind from the offset rounded down to the device's alignment; the kernel adds the
        // remainder (in elements).
        let bind_offset = offset - offset % self.storage_alignment;
        let bind_size = end - bind_offset;
        if bind_size > self.max_binding_size {
            return fail(format!(
                "the logits span {bind_size} bytes, above the binding limit of {}",
                self.max_binding_size
            ));
        }
        let (Ok(element_offset), Ok(row_stride)) = (
            u32::try_from((offset - bind_offset) / 4),
            u32::try_from(row_stride),
        ) else {
            return fail(format!("row stride {row_stride} does not fit in u32"));
        };
        let binding = wgpu::BufferBinding {
            buffer,
            offset: bind_offset,
            size: NonZeroU64::new(bind_size),
        };
        self.run(Some(binding), element_offset, row_stride, rows)
    }

    fn check_rows(&self, rows: &[NarrowedRow<'_>]) -> Result<(), GpuSamplingError> {
        if rows.is_empty() || rows.len() > self.max_batch {
            return Err(GpuSamplingError::BatchSize {
                batch: rows.len(),
                max_batch: self.max_batch,
            });
        }
        for (row, NarrowedRow { request, .. }) in rows.iter().enumerate() {
            if let Some(mask) = request.mask
                && mask.len() != self.mask_words
            {
                return Err(GpuSamplingError::MaskLength {
                    row,
                    expected: self.mask_words,
                    actual: mask.len(),
                });
            }
            let value = request.uniform;
            if !(0.0..1.0).contains(&value) {
                return Err(GpuSamplingError::Uniform { row, value });
            }
        }
        Ok(())
    }

    /// Uploads masks and parameters, submits one dispatch plus one copy, reads the results
    /// back once. `logits` is `None` for the host-logits buffer.
    fn run(
        &mut self,
        logits: Option<wgpu::BufferBinding<'_>>,
        element_offset: u32,
        row_stride: u32,
        rows: &[NarrowedRow<'_>],
    ) -> Result<Vec<Result<usize, SamplingError>>, GpuSamplingError> {
        let batch = rows.len();
        self.mask_scratch.clear();
        self.params_scratch.clear();
        for &NarrowedRow { request, top_k } in rows {
            match request.mask {
                // Keeping no token masks every one.
                _ if top_k == Some(0) => self
                    .mask_scratch
                    .extend(std::iter::repeat_n(0, self.mask_words)),
                Some(mask) => self.mask_scratch.extend_from_slice(mask),
                None => self
                    .mask_scratch
                    .extend(std::iter::repeat_n(u32::MAX, self.mask_words)),
            }
            let saturate = |k: usize| u32::try_from(k).unwrap_or(u32::MAX);
            let (mode, k, p, temperature) = match request.sampling {
                Sampling::ArgMax => (MODE_ARGMAX, 0, 0.0, 1.0),
                Sampling::TopK { k, temperature } => (
                    MODE_TOP_K,
                    saturate(top_k.map_or(k, |cut| k.min(cut))),
                    0.0,
                    temperature,
                ),
                // 0: no cut.
                Sampling::TopP { p, temperature } => {
                    (MODE_TOP_P, top_k.map_or(0, saturate), p, temperature)
                }
            };
            self.params_scratch.extend_from_slice(&[
                mode,
                k,
                f32::to_bits(p),
                f32::to_bits(temperature),
                request.uniform.to_bits(),
                0,
                0,
                0,
            ]);
        }
        let dims = [
            u32_of(batch),
            u32_of(self.vocab),
            u32_of(self.mask_words),
            element_offset,
            row_stride,
            0,
            0,
            0,
        ];
        self.queue
            .write_buffer(&self.masks, 0, &u32_bytes(&self.mask_scratch));
        self.queue
            .write_buffer(&self.params, 0, &u32_bytes(&self.params_scratch));
        self.queue.write_buffer(&self.dims, 0, &u32_bytes(&dims));

        let result_bytes = batch as u64 * RESULT_BYTES;
        let scopes = ErrorScopes::push(&self.device);
        let device_bind_group = logits.map(|binding| {
            make_bind_group(
                &self.device,
                &self.layout,
                binding,
                [&self.masks, &self.params, &self.dims, &self.results],
            )
        });
        let bind_group = device_bind_group.as_ref().unwrap_or(&self.host_bind_group);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("leitmotif sampler step"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("leitmotif sampler"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(u32_of(batch), 1, 1);
        }
        encoder.copy_buffer_to_buffer(&self.results, 0, &self.staging, 0, result_bytes);
        let submission = self.queue.submit([encoder.finish()]);
        self.stats.submissions += 1;
        scopes.pop()?;

        let (sender, receiver) = mpsc::channel();
        let slice = self.staging.slice(..result_bytes);
        slice.map_async(wgpu::MapMode::Read, move |result| {
            // The receiver only disappears if this step already failed.
            let _ = sender.send(result);
        });
        let polled = self.device.poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: None,
        });
        let mapped = match receiver.try_recv() {
            Ok(result) => result.map_err(|err| GpuSamplingError::ReadBack(err.to_string())),
            Err(_) => Err(GpuSamplingError::ReadBack(match polled {
                Err(err) => err.to_string(),
                Ok(_) => "the map callback did not run".into(),
            })),
        };
        if let Err(err) = mapped {
            // A map that is still pending would make the next step's map fail: wait for it,
            // then release it.
            let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
            self.staging.unmap();
            return Err(err);
        }
        let words: Vec<u32> = {
            let view = slice.get_mapped_range();
            view.chunks_exact(4)
                .map(|bytes| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                .collect()
        };
        self.staging.unmap();
        self.stats.read_backs += 1;
        self.stats.bytes_read_back += result_bytes;
        self.stats.steps += 1;
        self.stats.rows += batch as u64;

        Ok(words
            .chunks_exact(4)
            .map(|result| decode(result[0], result[1], result[2]))
            .collect())
    }

    /// Samples one token per row of a burn `[batch, vocab]` f32 logits tensor on burn's wgpu
    /// backend, without reading the logits back.
    ///
    /// The sampler must have been created on the wgpu device and queue burn uses for the
    /// tensor's device: `burn::backend::wgpu::init_setup` returns them for a device burn
    /// opens, and `init_device` registers a device opened by the caller (request the
    /// adapter's features and limits for it, as cubecl does for its own devices: cubecl
    /// picks kernels by the adapter's features).
    ///
    /// Synchronisation: burn (cubecl) records kernels in its own command encoder and submits
    /// it only now and then. Looking the tensor's buffer up (`ComputeClient::get_resource`)
    /// makes cubecl submit the pending work of this thread's stream and of the tensor's
    /// stream, without waiting; the explicit `flush` after it is then normally a no-op that
    /// reports errors burn deferred (a kernel that failed to compile, say). Queue order then
    /// runs the logits' kernels before the sampler's. So a step costs burn's own submission
    /// of the model's kernels (which it would make anyway), plus the sampler's one, and one
    /// read-back of the token ids.
    ///
    /// Rows may be strided; the vocabulary axis must be contiguous (a transposed view is an
    /// error).
    ///
    /// # Errors
    ///
    /// As [`GpuSampler::sample_device`]; also [`GpuSamplingError::Burn`] for a tensor of
    /// another shape or dtype, or an error from burn's compute server.
    pub fn sample_burn_logits(
        &mut self,
        logits: &burn::tensor::Tensor<burn::backend::Wgpu, 2>,
        rows: &[RowRequest<'_>],
    ) -> Result<Vec<Result<usize, SamplingError>>, GpuSamplingError> {
        self.sample_burn_logits_narrowed(logits, &narrow_none(rows))
    }

    /// [`GpuSampler::sample_burn_logits`] with a top-k cut per row ([`NarrowedRow`]).
    ///
    /// # Errors
    ///
    /// As [`GpuSampler::sample_burn_logits`].
    pub fn sample_burn_logits_narrowed(
        &mut self,
        logits: &burn::tensor::Tensor<burn::backend::Wgpu, 2>,
        rows: &[NarrowedRow<'_>],
    ) -> Result<Vec<Result<usize, SamplingError>>, GpuSamplingError> {
        let tensor = logits.clone().into_primitive().tensor();
        if tensor.dtype != burn::tensor::DType::F32 {
            return Err(GpuSamplingError::Burn(format!(
                "logits are {:?}, not f32",
                tensor.dtype
            )));
        }
        let shape = tensor.meta.shape();
        let strides = tensor.meta.strides();
        if shape[0] != rows.len() || shape[1] != self.vocab {
            return Err(GpuSamplingError::Burn(format!(
                "logits of shape {:?} for {} rows of {} tokens",
                &shape[..],
                rows.len(),
                self.vocab
            )));
        }
        if strides[1] != 1 && self.vocab > 1 {
            return Err(GpuSamplingError::Burn(format!(
                "the vocabulary axis has stride {}; make the logits contiguous",
                strides[1]
            )));
        }
        let row_stride = if rows.len() == 1 {
            self.vocab
        } else {
            strides[0]
        };
        // Gives the buffer slice, after submitting burn's pending kernels for this thread's
        // stream and the tensor's (cubecl 0.10 `execute_streams` ends in a queue submit); the
        // returned handle keeps the allocation from being reused until the step is done.
        let resource = tensor
            .client
            .get_resource(tensor.handle.clone())
            .map_err(|err| GpuSamplingError::Burn(format!("{err:?}")))?;
        // Submits anything still pending and reports burn's deferred errors.
        tensor
            .client
            .flush()
            .map_err(|err| GpuSamplingError::Burn(format!("{err:?}")))?;
        let resource = resource.resource();
        self.sample_device_narrowed(
            DeviceLogits {
                buffer: &resource.buffer,
                offset: resource.offset,
                row_stride,
            },
            rows,
        )
    }
}

/// Rows without a top-k cut.
fn narrow_none<'a>(rows: &[RowRequest<'a>]) -> Vec<NarrowedRow<'a>> {
    rows.iter().copied().map(NarrowedRow::from).collect()
}

/// Turns one result `(token, status, detail)` into the CPU sampler's result.
fn decode(token: u32, status: u32, detail: u32) -> Result<usize, SamplingError> {
    let token = token as usize;
    match status {
        STATUS_OK => Ok(token),
        STATUS_ALL_MASKED => Err(SamplingError::AllMasked),
        STATUS_NON_FINITE => Err(SamplingError::NonFiniteLogit {
            index: token,
            value: f32::from_bits(detail),
        }),
        STATUS_BAD_K => Err(SamplingError::InvalidParameter("k must be at least 1")),
        STATUS_BAD_P => Err(SamplingError::InvalidParameter("p must be in (0, 1]")),
        STATUS_BAD_TEMPERATURE => Err(SamplingError::InvalidParameter(
            "temperature must be finite and above zero",
        )),
        STATUS_BAD_MODE => Err(SamplingError::InvalidParameter("unknown sampling mode")),
        _ => Err(SamplingError::InvalidParameter(
            "the GPU sampler returned an unknown status",
        )),
    }
}

fn make_bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    logits: wgpu::BufferBinding<'_>,
    [masks, params, dims, results]: [&wgpu::Buffer; 4],
) -> wgpu::BindGroup {
    fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
        wgpu::BindGroupEntry {
            binding,
            resource: buffer.as_entire_binding(),
        }
    }
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("leitmotif sampler bind group"),
        layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(logits),
            },
            entry(1, masks),
            entry(2, params),
            entry(3, dims),
            entry(4, results),
        ],
    })
}

/// wgpu error scopes for validation, out-of-memory and internal errors, so that a wgpu error
/// becomes a [`GpuSamplingError::Wgpu`] instead of reaching the device's uncaptured-error
/// handler (which panics by default).
struct ErrorScopes([wgpu::ErrorScopeGuard; 3]);

impl ErrorScopes {
    fn push(device: &wgpu::Device) -> Self {
        Self([
            device.push_error_scope(wgpu::ErrorFilter::OutOfMemory),
            device.push_error_scope(wgpu::ErrorFilter::Internal),
            device.push_error_scope(wgpu::ErrorFilter::Validation),
        ])
    }

    /// Pops the scopes (innermost first) and returns the first error caught.
    fn pop(self) -> Result<(), GpuSamplingError> {
        let [out_of_memory, internal, validation] = self.0;
        let mut first = None;
        for guard in [validation, internal, out_of_memory] {
            let caught = futures_lite::future::block_on(guard.pop());
            if first.is_none() {
                first = caught;
            }
        }
        first.map_or(Ok(()), |err| Err(GpuSamplingError::Wgpu(err.to_string())))
    }
}

/// Invocations per workgroup for a sort capacity (`WG` in the shader): 128, which keeps
/// barriers cheap on software rasterisers, or 256 where 16 positions per invocation are not
/// enough.
fn workgroup_size(capacity: usize) -> u32 {
    if capacity > CHUNK_MAX * 128 { 256 } else { 128 }
}

/// Whether the kernel with this sort capacity fits the kernel's own bounds and the device's
/// workgroup limits.
fn fits(limits: &wgpu::Limits, capacity: usize) -> bool {
    let invocations = workgroup_size(capacity);
    // The sorted ids, the scan over the invocations and a few scalars (rounded up).
    let bytes = capacity as u64 * 4 + u64::from(invocations) * 4 + 64;
    capacity <= MAX_SORT_CAPACITY
        && invocations <= limits.max_compute_invocations_per_workgroup
        && invocations <= limits.max_compute_workgroup_size_x
        && bytes <= u64::from(limits.max_compute_workgroup_storage_size)
}

fn bytes_of(count: usize, each: usize) -> u64 {
    count as u64 * each as u64
}

/// A size already checked against a u32 device limit.
fn u32_of(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn u32_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|word| word.to_le_bytes()).collect()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shader_parses_and_validates_with_naga() {
        let module = naga::front::wgsl::parse_str(SHADER_SOURCE)
            .unwrap_or_else(|err| panic!("{}", err.emit_to_string(SHADER_SOURCE)));
        // No optional capability: the kernel runs on any WebGPU device.
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|err| panic!("{}", err.emit_to_string(SHADER_SOURCE)));
        assert!(module.entry_points.iter().any(|entry| entry.name == "main"));
        // The host sets these pipeline constants.
        for name in ["SORT_CAPACITY", "WG"] {
            assert!(
                module
                    .overrides
                    .iter()
                    .any(|(_, constant)| constant.name.as_deref() == Some(name)),
                "no override {name}"
            );
        }
        drop(info);
    }

    #[test]
    fn pack_mask_sets_one_bit_per_allowed_token() {
        let mut allowed = vec![false; 70];
        for index in [0, 5, 31, 32, 63, 69] {
            allowed[index] = true;
        }
        let words = pack_mask(&allowed);
        assert_eq!(words.len(), 3);
        assert_eq!(words[0], 1 | 1 << 5 | 1 << 31);
        assert_eq!(words[1], 1 | 1 << 31);
        assert_eq!(words[2], 1 << 5);
        assert!(pack_mask(&[]).is_empty());
    }

    #[test]
    fn statuses_decode_to_the_cpu_errors() {
        assert_eq!(decode(7, STATUS_OK, 0), Ok(7));
        assert_eq!(
            decode(0, STATUS_ALL_MASKED, 0),
            Err(SamplingError::AllMasked)
        );
        assert!(matches!(
            decode(3, STATUS_NON_FINITE, f32::NAN.to_bits()),
            Err(SamplingError::NonFiniteLogit { index: 3, value }) if value.is_nan()
        ));
        for status in [STATUS_BAD_K, STATUS_BAD_P, STATUS_BAD_TEMPERATURE, 99] {
            assert!(matches!(
                decode(0, status, 0),
                Err(SamplingError::InvalidParameter(_))
            ));
        }
    }

    #[test]
    fn webgpu_default_limits_fit_2048_tokens() {
        let limits = wgpu::Limits::default();
        assert!(fits(&limits, 512));
        assert!(fits(&limits, 2048));
        assert!(!fits(&limits, 4096));
        let roomy = wgpu::Limits {
            max_compute_workgroup_storage_size: 32768,
            ..wgpu::Limits::default()
        };
        assert!(fits(&roomy, 4096));
        assert!(!fits(&roomy, 8192));
    }
}
