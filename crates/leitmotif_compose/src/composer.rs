//! The [`Composer`]: a loaded model on a backend, turning [`Request`]s into
//! [`Composition`]s.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

#[cfg(feature = "wgpu")]
use burn::backend::wgpu::WgpuDevice;
use leitmotif_arrange::strong_beat;
use leitmotif_model::backend::ResolvedBackend;
#[cfg(feature = "wgpu")]
use leitmotif_model::{AnyModel, GpuBackend, LanguageModel, SharedWgpu};
use leitmotif_model::{BackendChoice, HostLstm, HostModel, HostTransformer, ModelSource};
use leitmotif_score::DEFAULT_PPQ;
use leitmotif_score::theory::Key;
use leitmotif_score::time::Meter;
use leitmotif_tokens::ngram::KneserNey;
use leitmotif_tokens::vocab::{METERS, duration_index};
use leitmotif_tokens::{Layer, Token, bar_units, unit_ticks};

use crate::assemble::assemble;
use crate::composition::Composition;
use crate::drafts::decode_drafts;
use crate::engine::{Engine, LayerRule, Rules};
use crate::error::ComposeError;
#[cfg(feature = "wgpu")]
use crate::gpu::{GpuDecodeStats, GpuSession, WgpuModel, open_shared};
use crate::ngram::NgramDecoder;
use crate::plan::{Plan, Setup, plan, probe_controls, setup};
use crate::request::{Request, Task, chords_in_key, key_for_chords};
use crate::session::{Decoder, Session, log_prob, score};

/// A layer other than the melody comes from the model when, after a bar of melody, the
/// model gives it at least this share of the probability of ending the melody: the model
/// was trained with that layer in this style. (The shipped transformer gives bass 0.98 of it
/// after a bar of chorale melody and 0.21 after a folk one, where it never saw a bass.)
pub const MODEL_LAYER_SHARE: f64 = 0.5;

enum Loaded {
    /// The transformer on the CPU: its host decoding path (see `leitmotif_model::host`).
    Host(Box<HostTransformer>),
    /// The LSTM on the CPU, on the host decoding path.
    HostRnn(Box<HostLstm>),
    /// The n-gram baseline (on the host).
    Ngram(Box<NgramDecoder>),
    /// A burn model on a wgpu device; picks on the device where its wgpu handles are known.
    #[cfg(feature = "wgpu")]
    Wgpu(Box<WgpuModel>),
}

/// A model loaded on a backend, ready to compose.
pub struct Composer {
    model: Loaded,
    id: String,
    backend: String,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer")
            .field("model", &self.id)
            .field("backend", &self.backend)
            .finish()
    }
}

impl Composer {
    /// Loads `source` on the backend `choice` resolves to.
    ///
    /// # Errors
    /// [`ComposeError::Backend`] when wgpu is asked for and there is no adapter;
    /// [`ComposeError::Weights`] for missing or corrupt weights.
    pub fn load(source: &ModelSource, choice: BackendChoice) -> Result<Self, ComposeError> {
        match choice.resolve()? {
            ResolvedBackend::Cpu => {
                let (model, id) = HostModel::load(source)?;
                let model = match model {
                    HostModel::Transformer(m) => Loaded::Host(Box::new(m)),
                    HostModel::Rnn(m) => Loaded::HostRnn(Box::new(m)),
                };
                Ok(Self {
                    model,
                    id,
                    backend: "cpu (host decoder)".to_owned(),
                })
            }
            #[cfg(not(feature = "wgpu"))]
            ResolvedBackend::Wgpu(_) => {
                Err(leitmotif_model::backend::BackendError::WgpuNotBuilt.into())
            }
            #[cfg(feature = "wgpu")]
            ResolvedBackend::Wgpu(adapter) => match open_shared(&adapter) {
                Some((shared, device)) => {
                    let info = shared.adapter_info();
                    let name = format!("wgpu ({}, {})", info.name, info.api);
                    Self::load_on_wgpu_with(source, device, Some(shared), &name)
                }
                None => {
                    let name = format!("wgpu ({}, {})", adapter.name, adapter.api);
                    Self::load_on_wgpu(source, adapter.device(), &name)
                }
            },
        }
    }

    /// A composer that writes with the n-gram baseline `model` instead of a neural model,
    /// through the same constrained decoding: for listening tests and comparisons.
    pub fn ngram(model: KneserNey) -> Self {
        let id = format!("{}-gram baseline", model.order());
        Self {
            model: Loaded::Ngram(Box::new(NgramDecoder::new(model))),
            id,
            backend: "cpu (host decoder)".to_owned(),
        }
    }

    /// Loads `source` on a given burn wgpu device.
    ///
    /// Without the device's wgpu handles every decoding step reads a row of logits back and
    /// samples on the host; [`load_on_shared_wgpu`](Self::load_on_shared_wgpu) picks tokens
    /// on the device instead.
    ///
    /// # Errors
    /// [`ComposeError::Weights`] for missing or corrupt weights.
    #[cfg(feature = "wgpu")]
    pub fn load_on_wgpu(
        source: &ModelSource,
        device: WgpuDevice,
        name: &str,
    ) -> Result<Self, ComposeError> {
        Self::load_on_wgpu_with(source, device, None, name)
    }

    /// Loads `source` on a wgpu device someone else opened (a game's render device, for
    /// one), registering it with burn.
    ///
    /// Each decoding step picks its token on the device with the fused sampling kernel and
    /// reads back only the token id. Register a device once: each call registers it anew.
    ///
    /// # Errors
    /// [`ComposeError::Weights`] for missing or corrupt weights.
    #[cfg(feature = "wgpu")]
    pub fn load_on_shared_wgpu(
        source: &ModelSource,
        shared: SharedWgpu,
        name: &str,
    ) -> Result<Self, ComposeError> {
        let device = shared.clone().into_burn_device();
        Self::load_on_wgpu_with(source, device, Some(shared), name)
    }

    /// Loads `source` on `device`, whose wgpu handles `shared` holds when known.
    #[cfg(feature = "wgpu")]
    fn load_on_wgpu_with(
        source: &ModelSource,
        device: WgpuDevice,
        shared: Option<SharedWgpu>,
        name: &str,
    ) -> Result<Self, ComposeError> {
        let (model, id) = AnyModel::load(source, &device)?;
        Ok(Self {
            model: Loaded::Wgpu(Box::new(WgpuModel::new(model, device, shared))),
            id,
            backend: name.to_owned(),
        })
    }

    /// GPU round trips of the compositions so far (`None` off wgpu): how many logits rows
    /// and token ids came back per picked token.
    #[cfg(feature = "wgpu")]
    pub fn gpu_stats(&self) -> Option<GpuDecodeStats> {
        match &self.model {
            Loaded::Wgpu(gpu) => Some(gpu.stats()),
            _ => None,
        }
    }

    /// Zeroes [`gpu_stats`](Self::gpu_stats).
    #[cfg(feature = "wgpu")]
    pub fn reset_gpu_stats(&self) {
        if let Loaded::Wgpu(gpu) = &self.model {
            gpu.reset_stats();
        }
    }

    /// Whether tokens are picked on the GPU by the fused sampling kernel (the default where
    /// the composer has the device's wgpu handles).
    #[cfg(feature = "wgpu")]
    pub fn fused_sampling(&self) -> bool {
        matches!(&self.model, Loaded::Wgpu(gpu) if gpu.fused)
    }

    /// Picks tokens on the GPU (`true`, where the composer has the device's wgpu handles) or
    /// reads every step's logits back and samples on the host (`false`: the reference the
    /// fused path is checked against). Returns [`fused_sampling`](Self::fused_sampling).
    #[cfg(feature = "wgpu")]
    pub fn set_fused_sampling(&mut self, fused: bool) -> bool {
        if let Loaded::Wgpu(gpu) = &mut self.model {
            gpu.fused = fused && gpu.can_fuse();
        }
        self.fused_sampling()
    }

    /// The model's identifier (name and weights hash).
    pub fn model_id(&self) -> &str {
        &self.id
    }

    /// The backend it runs on.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// Composes what `request` asks for.
    ///
    /// # Errors
    /// [`ComposeError::Request`] for a bad parameter, [`ComposeError::Score`] for a primer
    /// or input the vocabulary cannot hold, model and sampling errors.
    pub fn compose(&self, request: &Request) -> Result<Composition, ComposeError> {
        let started = Instant::now();
        let request = with_chord_key(request);
        let request = request.as_ref();
        request.validate()?;
        let setup = setup(request)?;
        if request.key_lock {
            chords_in_key(&request.chords, setup.scale)?;
        }
        let generated = match &self.model {
            Loaded::Host(model) => run(request, &setup, &|| {
                Session::new(model.as_ref(), model.max_seq_len())
            }),
            Loaded::HostRnn(model) => run(request, &setup, &|| {
                Session::new(model.as_ref(), usize::MAX)
            }),
            Loaded::Ngram(model) => run(request, &setup, &|| {
                Session::new(model.as_ref(), usize::MAX)
            }),
            #[cfg(feature = "wgpu")]
            Loaded::Wgpu(gpu) => match &gpu.model {
                AnyModel::Rnn(m) => run_wgpu(request, &setup, gpu, m, usize::MAX),
                AnyModel::Transformer(m, context) => run_wgpu(request, &setup, gpu, m, *context),
            },
        }?;
        let mut composition = assemble(request, generated, &self.id, &self.backend)?;
        composition.elapsed = started.elapsed();
        composition.verify()?;
        Ok(composition)
    }
}

/// [`run`] with `model` (one of `gpu`'s), which sees at most `context` tokens at once, on
/// `gpu`'s device.
#[cfg(feature = "wgpu")]
fn run_wgpu<M: LanguageModel<GpuBackend>>(
    request: &Request,
    setup: &Setup,
    gpu: &WgpuModel,
    model: &M,
    context: usize,
) -> Result<Generated, ComposeError>
where
    M::State: Clone,
{
    let decoding = gpu.context(model);
    let generated = run(request, setup, &|| GpuSession::new(&decoding, context));
    gpu.finish(decoding);
    generated
}

/// What the decoding produced.
pub(crate) struct Generated {
    pub tokens: Vec<Token>,
    pub plan: Plan,
    pub join_bits: Option<f64>,
    pub candidate_bits: Vec<f64>,
}

/// `request`, with the key that holds its chords when it is a new piece with chords and no
/// key.
fn with_chord_key(request: &Request) -> Cow<'_, Request> {
    match (&request.task, request.key) {
        (Task::New, None) if !request.chords.is_empty() => Cow::Owned(Request {
            key: key_for_chords(&request.chords, request.mode),
            ..request.clone()
        }),
        _ => Cow::Borrowed(request),
    }
}

/// The strong-beat onsets of the written bars under the request's chords (one a bar,
/// cycling) and the chord tones allowed there: those the bar's key allows when locked;
/// bars where it allows none are left free.
fn chord_tones(request: &Request, plan: &Plan) -> BTreeMap<u64, [bool; 12]> {
    let mut out = BTreeMap::new();
    if request.chords.is_empty() {
        return out;
    }
    let unit = unit_ticks();
    for (bar, chord) in plan.bars.iter().zip(request.chords.iter().cycle()) {
        let c = bar.controls;
        let tonic =
            Key::from_key_signature(c.sharps, c.minor).map_or(plan.scale.tonic, |k| k.tonic);
        let mut tones = [false; 12];
        for pc in chord.pitch_classes() {
            if !request.key_lock || bar.intervals[usize::from(tonic.interval_to(pc))] {
                tones[usize::from(pc.index())] = true;
            }
        }
        if !tones.contains(&true) {
            continue;
        }
        let (numerator, denominator) = METERS[usize::from(c.meter)];
        let meter = Meter {
            numerator,
            denominator,
        };
        for p in 0..bar_units(c.meter).unwrap_or(48) {
            if strong_beat(meter, DEFAULT_PPQ, u64::from(p) * unit) {
                out.insert(bar.origin + u64::from(p), tones);
            }
        }
    }
    out
}

/// The rules of every layer.
fn rules(request: &Request) -> Rules {
    Rules {
        layers: Layer::ALL
            .iter()
            .map(|&l| LayerRule {
                range: request.ranges.of(l),
                monophonic: matches!(l, Layer::Melody | Layer::Bass),
            })
            .collect(),
        key_lock: request.key_lock,
        chord_tones: BTreeMap::new(),
    }
}

/// Which of the requested layers the model writes (see [`MODEL_LAYER_SHARE`]).
fn probe<D: Decoder>(
    fresh: &dyn Fn() -> D,
    prefix: &[Token],
    request: &Request,
    setup: &Setup,
) -> Result<Vec<Layer>, ComposeError> {
    let mut layers = vec![Layer::Melody];
    let wanted: Vec<Layer> = match &request.task {
        Task::Infill { layer: Some(l), .. } => vec![*l],
        _ => request.layers.clone(),
    };
    let others: Vec<Layer> = wanted
        .iter()
        .copied()
        .filter(|l| *l != Layer::Melody)
        .collect();
    if others.is_empty() {
        return Ok(layers);
    }
    let c = probe_controls(request, setup, 1 + others.len())?;
    let units = leitmotif_tokens::bar_units(c.meter).unwrap_or(48);
    let mut decoder = fresh();
    for &t in prefix {
        decoder.feed(t);
    }
    for t in c.tokens().into_iter().chain([Token::Layer(Layer::Melody)]) {
        decoder.feed(t);
    }
    // A plain bar of melody: one note per beat stepping down to the tonic.
    let meter = leitmotif_tokens::vocab::METERS[usize::from(c.meter)];
    let beats = u8::max(meter.0, 1);
    let beat = (units / beats).max(1);
    for i in 0..beats {
        let pitch = [67u8, 65, 64, 62, 60][usize::from(i.min(4))];
        decoder.feed(Token::Position(i * beat));
        if i == 0 {
            decoder.feed(Token::Velocity(20));
        }
        for t in [
            Token::Pitch(pitch),
            Token::Duration(duration_index(u64::from(beat))),
        ] {
            decoder.feed(t);
        }
    }
    let logits = decoder.logits()?;
    let ends: Vec<Token> = Layer::ALL
        .iter()
        .filter(|l| **l > Layer::Melody)
        .map(|&l| Token::Layer(l))
        .chain([Token::Bar, Token::Eos])
        .collect();
    let mass: f64 = ends.iter().map(|&t| log_prob(logits, t).exp()).sum();
    for layer in others {
        let share = log_prob(logits, Token::Layer(layer)).exp() / mass.max(f64::MIN_POSITIVE);
        tracing::debug!(?layer, share, "layer probe");
        if share >= MODEL_LAYER_SHARE {
            layers.push(layer);
        }
    }
    Ok(layers)
}

fn mix(seed: u64, salt: u64) -> u64 {
    leitmotif_tokens::fnv::Fnv1a::hash(&[seed.to_le_bytes(), salt.to_le_bytes()].concat())
}

/// Plans, probes and decodes.
fn run<D: Decoder + Clone>(
    request: &Request,
    setup: &Setup,
    fresh: &dyn Fn() -> D,
) -> Result<Generated, ComposeError> {
    let model_layers = match &request.model_layers {
        Some(layers) => layers.clone(),
        None => {
            let draft = plan(request, setup, &[Layer::Melody])?;
            probe(fresh, &draft.prefix, request, setup)?
        }
    };
    let plan = plan(request, setup, &model_layers)?;
    let mut rules = rules(request);
    rules.chord_tones = chord_tones(request, &plan);
    let mut engine = Engine::new(fresh(), &rules, request.sampling, request.seed);
    engine.feed_all(&plan.prefix)?;
    engine.set_bounds(plan.bounds.clone());
    let n = plan.bars.len();
    // Nothing is scored at a join: whole drafts, when more than one is asked for.
    let whole = !plan.looped && plan.suffix.is_none() && request.drafts > 1;
    let fixed = if plan.looped {
        n - 1
    } else if plan.suffix.is_some() || whole {
        0
    } else {
        n
    };
    for bar in &plan.bars[..fixed] {
        engine.write_bar(bar)?;
    }
    let mut candidate_bits = Vec::new();
    let mut join_bits = None;
    if fixed < n {
        // Each draft scores its join by feeding the suffix to its own decoder: nothing is
        // decoded after the candidates, so the chosen engine's decoder is not read again.
        // Whole drafts: the first is the one the request's seed gives alone; each is scored
        // by what the model thought of the tokens it picked.
        let seeds: Vec<u64> = if whole {
            std::iter::once(request.seed)
                .chain((1..request.drafts).map(|c| mix(request.seed, c as u64)))
                .collect()
        } else {
            (0..request.candidates)
                .map(|c| mix(request.seed, c as u64 + 1))
                .collect()
        };
        if whole {
            engine.count_picks();
        }
        let drafts = if D::BATCHES {
            // Together: one model call per step for all of them.
            decode_drafts(&engine, &seeds, |c| write_candidate(c, &plan, fixed, whole))?
        } else {
            // One after another, each picking on its own device (the GPU's fused sampler).
            let mut drafts = Vec::with_capacity(seeds.len());
            for &seed in &seeds {
                let mut candidate = engine.clone();
                candidate.reseed(seed);
                let bits = write_candidate(&mut candidate, &plan, fixed, whole)?;
                drafts.push((bits, candidate));
            }
            drafts
        };
        let mut best: Option<(f64, Engine<'_, D>)> = None;
        for (bits, candidate) in drafts {
            candidate_bits.push(bits);
            if best.as_ref().is_none_or(|(b, _)| bits < *b) {
                best = Some((bits, candidate));
            }
        }
        if let Some((bits, chosen)) = best {
            join_bits = (!whole).then_some(bits);
            engine = chosen;
        }
    }
    if plan.ends {
        engine.feed(Token::Eos)?;
    } else if !engine.grammar().at_bar_boundary() {
        return Err(ComposeError::Constraint(
            "the last bar did not close".to_owned(),
        ));
    }
    Ok(Generated {
        tokens: engine.tokens,
        plan,
        join_bits,
        candidate_bits,
    })
}

/// Writes a candidate: a whole draft scored by the bits per token the model gave its picks,
/// or (see [`write_draft`]) the bars after the fixed ones scored at the join.
fn write_candidate<D: Decoder>(
    candidate: &mut Engine<'_, D>,
    plan: &Plan,
    fixed: usize,
    whole: bool,
) -> Result<f64, ComposeError> {
    if whole {
        for bar in &plan.bars {
            candidate.write_bar(bar)?;
        }
        Ok(candidate.picked_bits())
    } else {
        write_draft(candidate, plan, fixed)
    }
}

/// Writes a draft's bars after the fixed ones and scores its join (the loop's first bar, or
/// the infill's suffix) in bits per token.
fn write_draft<D: Decoder>(
    candidate: &mut Engine<'_, D>,
    plan: &Plan,
    fixed: usize,
) -> Result<f64, ComposeError> {
    for bar in &plan.bars[fixed..] {
        candidate.write_bar(bar)?;
    }
    let suffix = if plan.looped {
        first_bar(&candidate.tokens, plan.prefix.len())
    } else {
        plan.suffix.clone().unwrap_or_default()
    };
    score(candidate.decoder_mut(), &suffix)
}

/// The tokens of the first bar after `start`.
fn first_bar(tokens: &[Token], start: usize) -> Vec<Token> {
    let rest = &tokens[start.min(tokens.len())..];
    let end = rest
        .iter()
        .skip(1)
        .position(|t| *t == Token::Bar)
        .map_or(rest.len(), |i| i + 1);
    rest[..end].to_vec()
}
