//! The [`Composer`]: a loaded model on a backend, turning [`Request`]s into
//! [`Composition`]s.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::backend::wgpu::WgpuDevice;
use leitmotif_arrange::{ArrangeSettings, BarSlot, arrange, shape_velocities};
use leitmotif_model::backend::ResolvedBackend;
use leitmotif_model::{BackendChoice, CpuBackend, CpuDevice, GpuBackend};
use leitmotif_score::melody::ControlValue;
use leitmotif_score::time::BarMap;
use leitmotif_score::{KeySignatureChange, Note, Score, TempoChange, TimeSignatureChange, Track};
use leitmotif_tokens::vocab::{INTENSITY_BUCKETS, duration_index};
use leitmotif_tokens::{Layer, Token, assign_layers, decode_tokens, unit_ticks};
use leitmotif_train::{AnyModel, ModelSource};

use crate::composition::{Composition, LayerReport, Source};
use crate::engine::{Engine, LayerRule, Rules};
use crate::error::ComposeError;
use crate::plan::{Plan, Setup, plan, probe_controls, setup, signature_of};
use crate::request::{Request, Task, allowed_pitch_classes};
use crate::session::{Decoder, Session, log_prob, score};

/// A layer other than the melody comes from the model when, after a bar of melody, the
/// model gives it at least this share of the probability of ending the melody: the model
/// was trained with that layer in this style.
pub const MODEL_LAYER_SHARE: f64 = 0.2;

enum Loaded {
    Cpu(Box<AnyModel<CpuBackend>>, CpuDevice),
    Wgpu(Box<AnyModel<GpuBackend>>, WgpuDevice),
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
                let device = CpuDevice::default();
                let (model, id) = AnyModel::load(source, &device)?;
                Ok(Self {
                    model: Loaded::Cpu(Box::new(model), device),
                    id,
                    backend: "cpu (Flex)".to_owned(),
                })
            }
            ResolvedBackend::Wgpu(adapter) => {
                let name = format!("wgpu ({}, {})", adapter.name, adapter.api);
                Self::load_on_wgpu(source, adapter.device(), &name)
            }
        }
    }

    /// Loads `source` on a given wgpu device (a game's own GPU device, for one).
    ///
    /// # Errors
    /// [`ComposeError::Weights`] for missing or corrupt weights.
    pub fn load_on_wgpu(
        source: &ModelSource,
        device: WgpuDevice,
        name: &str,
    ) -> Result<Self, ComposeError> {
        let (model, id) = AnyModel::load(source, &device)?;
        Ok(Self {
            model: Loaded::Wgpu(Box::new(model), device),
            id,
            backend: name.to_owned(),
        })
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
        request.validate()?;
        let setup = setup(request)?;
        let generated = match &self.model {
            Loaded::Cpu(model, device) => match model.as_ref() {
                AnyModel::Rnn(m) => run(request, &setup, &|| Session::new(m, *device, usize::MAX)),
                AnyModel::Transformer(m, context) => {
                    run(request, &setup, &|| Session::new(m, *device, *context))
                }
            },
            Loaded::Wgpu(model, device) => match model.as_ref() {
                AnyModel::Rnn(m) => run(request, &setup, &|| {
                    Session::new(m, device.clone(), usize::MAX)
                }),
                AnyModel::Transformer(m, context) => run(request, &setup, &|| {
                    Session::new(m, device.clone(), *context)
                }),
            },
        }?;
        let mut composition = assemble(request, generated, &self.id, &self.backend)?;
        composition.elapsed = started.elapsed();
        composition.verify()?;
        Ok(composition)
    }
}

/// What the decoding produced.
struct Generated {
    tokens: Vec<Token>,
    plan: Plan,
    join_bits: Option<f64>,
    candidate_bits: Vec<f64>,
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
    for t in [
        Token::Bar,
        Token::Key {
            sharps: c.sharps,
            minor: c.minor,
        },
        Token::Meter(c.meter),
        Token::Density(c.density),
        Token::Register(c.register),
        Token::Intensity(c.intensity),
        Token::Layer(Layer::Melody),
    ] {
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
fn run<D: Decoder>(
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
    let rules = rules(request);
    let mut engine = Engine::new(fresh(), &rules, request.sampling, request.seed);
    engine.feed_all(&plan.prefix)?;
    engine.set_bounds(plan.bounds.clone());
    let n = plan.bars.len();
    let fixed = if plan.looped {
        n - 1
    } else if plan.suffix.is_some() {
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
        let mut best: Option<(f64, Engine<'_, D>)> = None;
        for c in 0..request.candidates {
            let mut candidate = engine.clone();
            candidate.reseed(mix(request.seed, c as u64 + 1));
            for bar in &plan.bars[fixed..] {
                candidate.write_bar(bar)?;
            }
            let suffix = if plan.looped {
                first_bar(&candidate.tokens, plan.prefix.len())
            } else {
                plan.suffix.clone().unwrap_or_default()
            };
            let mut decoder = candidate.decoder_mut().clone();
            let bits = score(&mut decoder, &suffix)?;
            candidate_bits.push(bits);
            if best.as_ref().is_none_or(|(b, _)| bits < *b) {
                best = Some((bits, candidate));
            }
        }
        if let Some((bits, chosen)) = best {
            join_bits = Some(bits);
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

/// Which track of `score` holds `layer`, adding one when none does.
fn track_for(score: &mut Score, layer: Layer, request: &Request) -> usize {
    if let Some(i) = assign_layers(score).iter().position(|l| *l == layer) {
        return i;
    }
    let (name, default_program, channel) = layer.track_defaults();
    let program = request
        .programs
        .iter()
        .find(|(l, _)| *l == layer)
        .map_or(default_program, |(_, p)| *p);
    score
        .tracks
        .push(Track::new(name, layer.role(), program, channel));
    score.tracks.len() - 1
}

/// Builds the score and the report.
fn assemble(
    request: &Request,
    generated: Generated,
    model: &str,
    backend: &str,
) -> Result<Composition, ComposeError> {
    let Generated {
        tokens,
        plan,
        join_bits,
        candidate_bits,
    } = generated;
    let unit = unit_ticks();
    let (lo, hi) = plan.span;
    let decoded = decode_tokens(&tokens, true)?;
    let mut score = plan.base.clone();
    let (sharps, minor) = signature_of(plan.scale);
    match &request.task {
        Task::New => {
            score.tempos = vec![TempoChange::from_bpm(0, plan.bpm)?];
            score.time_signatures = vec![TimeSignatureChange {
                tick: 0,
                numerator: plan.meter.numerator,
                denominator: plan.meter.denominator,
            }];
            score.key_signatures = vec![KeySignatureChange {
                tick: 0,
                sharps,
                minor,
            }];
            score.name = "Leitmotif".to_owned();
        }
        Task::Continue { .. } => {
            let meter_now = BarMap::new(&score).bar_at(lo.saturating_sub(1)).meter;
            if meter_now != plan.meter {
                score.time_signatures.push(TimeSignatureChange {
                    tick: lo,
                    numerator: plan.meter.numerator,
                    denominator: plan.meter.denominator,
                });
            }
            let key_now = score.key_signatures.iter().rev().find(|k| k.tick <= lo);
            if key_now.is_none_or(|k| (k.sharps, k.minor) != (sharps, minor)) {
                score.key_signatures.push(KeySignatureChange {
                    tick: lo,
                    sharps,
                    minor,
                });
            }
            let bpm_now = score
                .tempos
                .iter()
                .rev()
                .find(|t| t.tick <= lo)
                .map_or(120.0, TempoChange::bpm);
            // (a score without a tempo plays at MIDI's default 120 bpm)
            if (bpm_now - plan.bpm).abs() > 0.01 {
                score.tempos.push(TempoChange::from_bpm(lo, plan.bpm)?);
            }
        }
        Task::Infill { .. } => {}
    }
    score.end_tick = score.end_tick.max(hi);
    // Tracks for every written layer, in layer order for a new piece.
    let mut targets = plan.targets.clone();
    targets.sort();
    let mut reports = Vec::new();
    for &layer in &targets {
        let track = track_for(&mut score, layer, request);
        if matches!(request.task, Task::Infill { .. }) {
            score.tracks[track]
                .notes
                .retain(|n| n.start < lo || n.start >= hi);
        }
        let range = request.ranges.of(layer);
        reports.push(LayerReport {
            layer,
            source: if plan.model_layers.contains(&layer) {
                Source::Model
            } else {
                Source::Arranger
            },
            track,
            notes: 0,
            range,
            monophonic: matches!(layer, Layer::Melody | Layer::Bass),
        });
    }
    // The bars written, as the arranger sees them.
    let slots: Vec<BarSlot> = plan
        .bars
        .iter()
        .enumerate()
        .map(|(i, bar)| {
            let units = leitmotif_tokens::bar_units(bar.controls.meter).map_or(48, u64::from);
            let intensity = match request.task {
                Task::Infill { .. } => {
                    f64::from(bar.controls.intensity.saturating_sub(1))
                        / f64::from(INTENSITY_BUCKETS - 2)
                }
                _ => request.intensity.at(i, plan.bars.len()),
            };
            BarSlot {
                start: bar.origin * unit,
                ticks: units * unit,
                meter: plan.meter,
                intensity: intensity.clamp(0.0, 1.0),
            }
        })
        .collect();
    let allowed = allowed_pitch_classes(plan.scale);
    let mut settings = ArrangeSettings::new(score.ppq, allowed, plan.scale.tonic);
    settings.bass_range = request.ranges.bass.clone();
    settings.chord_range = request.ranges.chords.clone();
    settings.looped = plan.looped;
    settings.seed = request.seed;
    // The model's notes.
    for track in &decoded.score.tracks {
        let Some(layer) = crate::request::layer_of_role(track.role) else {
            continue;
        };
        let Some(report) = reports
            .iter_mut()
            .find(|r| r.layer == layer && r.source == Source::Model)
        else {
            continue;
        };
        let mut notes: Vec<Note> = track
            .notes
            .iter()
            .filter(|n| n.start >= lo && n.start < hi)
            .copied()
            .collect();
        shape_velocities(&mut notes, &slots, &settings);
        report.notes = notes.len();
        score.tracks[report.track].notes.extend(notes);
    }
    // The arranger's, on the melody's harmony.
    if reports.iter().any(|r| r.source == Source::Arranger) {
        let melody: Vec<Note> = assign_layers(&score)
            .iter()
            .position(|l| *l == Layer::Melody)
            .map(|i| {
                score.tracks[i]
                    .notes
                    .iter()
                    .filter(|n| n.start >= lo && n.start < hi)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let parts = arrange(&melody, &slots, &settings)?;
        for report in reports.iter_mut().filter(|r| r.source == Source::Arranger) {
            let notes = match report.layer {
                Layer::Bass => parts.bass.clone(),
                Layer::Chords => parts.chords.clone(),
                Layer::Drums => parts.drums.clone(),
                _ => Vec::new(),
            };
            let notes = fit(
                notes,
                &score.tracks[report.track].notes,
                report.monophonic,
                lo,
                hi,
            );
            report.notes = notes.len();
            score.tracks[report.track].notes.extend(notes);
        }
    }
    score.normalize();
    score.validate()?;
    let total_bars = plan.total_bars;
    let controls = controls_of(request, &plan);
    let allowed_spans = plan
        .bars
        .iter()
        .zip(&slots)
        .map(|(bar, slot)| {
            let key = leitmotif_score::theory::Key::from_key_signature(
                bar.controls.sharps,
                bar.controls.minor,
            )
            .map_or(plan.scale.tonic, |k| k.tonic);
            let mut mask = [false; 12];
            for (i, a) in bar.intervals.iter().enumerate() {
                if *a {
                    mask[usize::from(key.transpose(i as i32).index())] = true;
                }
            }
            (slot.start, slot.end(), mask)
        })
        .collect();
    Ok(Composition {
        score,
        key: plan.scale,
        tempo_bpm: plan.bpm,
        meter: plan.meter,
        bars: plan.first_bar..=plan.first_bar + plan.bars.len() as u32 - 1,
        total_bars,
        span: (lo, hi),
        layers: reports,
        key_lock: request.key_lock,
        allowed: allowed_spans,
        looped: plan.looped,
        seed: request.seed,
        model: model.to_owned(),
        backend: backend.to_owned(),
        join_bits,
        candidate_bits,
        tokens: tokens.len(),
        elapsed: std::time::Duration::ZERO,
        controls,
    })
}

/// Arranger notes fitted around kept ones: in a monophonic layer a note starting before a
/// kept note ends is dropped and one running into a kept note is cut short; nothing sounds
/// past `hi` when kept music follows.
fn fit(mut notes: Vec<Note>, kept: &[Note], monophonic: bool, lo: u64, hi: u64) -> Vec<Note> {
    notes.retain(|n| n.start >= lo && n.start < hi);
    for n in &mut notes {
        n.duration = n.duration.min(hi - n.start);
    }
    if monophonic {
        let busy = kept
            .iter()
            .filter(|k| k.start < lo)
            .map(Note::end)
            .max()
            .unwrap_or(0);
        notes.retain(|n| n.start >= busy);
        let next = kept.iter().filter(|k| k.start >= hi).map(|k| k.start).min();
        if let Some(next) = next {
            for n in &mut notes {
                n.duration = n.duration.min(next - n.start);
            }
        }
    }
    notes.retain(|n| n.duration > 0);
    notes
}

/// The request's controls, for the document's metadata.
fn controls_of(request: &Request, plan: &Plan) -> BTreeMap<String, ControlValue> {
    let n = plan.bars.len();
    let mut c = BTreeMap::new();
    c.insert("key".to_owned(), ControlValue::Text(plan.scale.to_string()));
    c.insert("tempo_bpm".to_owned(), ControlValue::Number(plan.bpm));
    c.insert(
        "meter".to_owned(),
        ControlValue::Text(plan.meter.to_string()),
    );
    c.insert("bars".to_owned(), ControlValue::Number(n as f64));
    c.insert("loop".to_owned(), ControlValue::Bool(plan.looped));
    c.insert("key_lock".to_owned(), ControlValue::Bool(request.key_lock));
    let layers: Vec<&str> = plan.targets.iter().map(|l| l.role().as_str()).collect();
    c.insert("layers".to_owned(), ControlValue::Text(layers.join(",")));
    for (name, curve) in [
        ("density", &request.density),
        ("register", &request.register),
        ("intensity", &request.intensity),
    ] {
        let values = (0..n)
            .map(|i| (curve.at(i, n) * 1000.0).round() / 1000.0)
            .collect();
        c.insert(name.to_owned(), ControlValue::Numbers(values));
    }
    let s = request.sampling;
    c.insert(
        "temperature".to_owned(),
        ControlValue::Number(f64::from(s.temperature)),
    );
    if let Some(k) = s.top_k {
        c.insert("top_k".to_owned(), ControlValue::Number(k as f64));
    }
    if let Some(p) = s.top_p {
        c.insert("top_p".to_owned(), ControlValue::Number(f64::from(p)));
    }
    if let Some(style) = request.style {
        c.insert(
            "style".to_owned(),
            ControlValue::Text(format!("{style:?}").to_lowercase()),
        );
    }
    c
}
