//! From a request to a token plan: the fixed prefix (a primer, the bars before an infill),
//! the bars to write with their controls and layers, the time bounds, and the music that
//! follows (scored at a join).

use std::borrow::Cow;

use leitmotif_score::theory::{Key, Mode, Scale};
use leitmotif_score::time::{BarMap, Meter};
use leitmotif_score::{DEFAULT_PPQ, Score, TempoChange};
use leitmotif_tokens::controls::BarControls;
use leitmotif_tokens::vocab::{DENSITY_BUCKETS, REGISTER_BUCKETS, meter_index, tempo_bucket};
use leitmotif_tokens::{
    Layer, Style, Token, assign_layers, bar_units, controls::lead_layer, encode, quantize,
    unit_ticks,
};

use crate::engine::{Bounds, FreeControls, FreeRegister, GenBar, Item};
use crate::error::ComposeError;
use crate::request::{
    Request, Task, allowed_intervals, density_bucket, intensity_bucket, register_bucket,
    tonic_from_seed,
};

/// The tokens of one encoded bar: `Bar`, its five controls, then each layer's block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BarTokens {
    /// `Bar` and the controls.
    pub head: Vec<Token>,
    /// The controls.
    pub controls: BarControls,
    /// Each layer's block (`Layer` token and notes), in layer order.
    pub layers: Vec<(Layer, Vec<Token>)>,
}

impl BarTokens {
    /// All the bar's tokens.
    pub(crate) fn flat(&self) -> Vec<Token> {
        let mut out = self.head.clone();
        for (_, block) in &self.layers {
            out.extend(block);
        }
        out
    }
}

/// Splits a piece's tokens into its head (`Bos`, style, tempo) and its bars (`Eos` dropped).
pub(crate) fn split_bars(tokens: &[Token]) -> (Vec<Token>, Vec<BarTokens>) {
    let first_bar = tokens
        .iter()
        .position(|t| *t == Token::Bar)
        .unwrap_or(tokens.len());
    let head = tokens[..first_bar]
        .iter()
        .copied()
        .filter(|t| *t != Token::Eos)
        .collect();
    let mut bars: Vec<BarTokens> = Vec::new();
    for &token in &tokens[first_bar..] {
        match token {
            Token::Bar => bars.push(BarTokens {
                head: vec![Token::Bar],
                controls: BarControls::default(),
                layers: Vec::new(),
            }),
            Token::Eos | Token::Pad => {}
            _ => {
                let Some(bar) = bars.last_mut() else { continue };
                let c = &mut bar.controls;
                match token {
                    Token::Key { sharps, minor } => (c.sharps, c.minor) = (sharps, minor),
                    Token::Meter(m) => c.meter = m,
                    Token::Density(d) => c.density = d,
                    Token::Register(r) => c.register = r,
                    Token::Intensity(i) => c.intensity = i,
                    Token::Layer(l) => {
                        bar.layers.push((l, vec![token]));
                        continue;
                    }
                    _ => {
                        if let Some((_, block)) = bar.layers.last_mut() {
                            block.push(token);
                        }
                        continue;
                    }
                }
                bar.head.push(token);
            }
        }
    }
    (head, bars)
}

/// The token plan of a request.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// `Bos`, style, tempo, then every fixed bar before the written ones.
    pub prefix: Vec<Token>,
    /// The bars to write.
    pub bars: Vec<GenBar>,
    /// Bounds while writing.
    pub bounds: Bounds,
    /// The bar that follows the written ones, scored at the join (an infill's next bar).
    pub suffix: Option<Vec<Token>>,
    /// Whether the phrase loops (bar 1 follows the last).
    pub looped: bool,
    /// Whether `Eos` closes the piece after the written bars.
    pub ends: bool,
    /// Layers the model writes.
    pub model_layers: Vec<Layer>,
    /// Layers the request wants written (model or arranger).
    pub targets: Vec<Layer>,
    /// The base score (the primer or infill input at 480 PPQ), or an empty one.
    pub base: Score,
    /// The written bars' span in ticks.
    pub span: (u64, u64),
    /// The key the written bars are in.
    pub scale: Scale,
    /// Tempo in quarter notes per minute.
    pub bpm: f64,
    /// Meter of the written bars.
    pub meter: Meter,
    /// 1-based numbers of the written bars.
    pub first_bar: u32,
    /// Bars in the finished piece.
    pub total_bars: u32,
}

/// The facts a plan needs before the model layers are known.
pub(crate) struct Setup {
    pub style: Style,
    pub scale: Scale,
    pub bpm: f64,
    pub meter: (u8, u8),
    /// The key signature (sharps, minor) a continued primer ends in.
    pub from: Option<(i8, bool)>,
}

/// The scale a key signature names (major or natural minor).
fn scale_of(sharps: i8, minor: bool) -> Scale {
    let key = Key::from_key_signature(sharps, minor)
        .unwrap_or(Key::major(leitmotif_score::theory::PitchClass::C));
    Scale::new(
        key.tonic,
        if minor {
            Mode::NaturalMinor
        } else {
            Mode::Major
        },
    )
}

/// The scale written with the signature `(sharps, minor)`: `asked` where it is written so
/// (a signature alone cannot tell G mixolydian, written with G major's, from G major),
/// else the signature's major or minor key.
fn scale_written(sharps: i8, minor: bool, asked: Option<Scale>) -> Scale {
    match asked {
        Some(key) if signature_of(key) == (sharps, minor) => key,
        _ => scale_of(sharps, minor),
    }
}

/// The key signature (sharps, minor) a scale is written with.
pub(crate) fn signature_of(scale: Scale) -> (i8, bool) {
    let minor = scale.mode.is_minor();
    let key = if minor {
        Key::minor(scale.tonic)
    } else {
        Key::major(scale.tonic)
    };
    key.key_signature()
}

/// The intervals above the tonic a bar that arrives in `scale` from another key may use:
/// the tonic triad's, so that the seam is heard as a cadence into the new key (its melody
/// and the model's other layers outline the new tonic, and the arranger, scoring chords by
/// fit to the melody with a preference for the tonic in a first bar, harmonises it with
/// the tonic chord).
fn arrival_intervals(scale: Scale) -> [bool; 12] {
    let steps = scale.mode.intervals();
    let (third, fifth) = if scale.mode.is_heptatonic() {
        (steps[2], steps[4])
    } else {
        (if scale.mode.is_minor() { 3 } else { 4 }, 7)
    };
    let allowed = allowed_intervals(scale.mode);
    let mut mask = [false; 12];
    for i in [0, third, fifth] {
        let i = usize::from(i % 12);
        mask[i] = allowed[i] || i == 0;
    }
    mask
}

/// The controls of written bar `bar` of `bars`, for `voices` layers written by the model.
///
/// Density and register come from the request's curves. The intensity token is what the
/// models learned it to mean, every layer's onsets per second scaled by loudness: it is
/// computed from the density, the tempo, the number of model-written layers and the
/// request's intensity (as loudness), so the controls agree with each other the way they
/// do in real music.
fn controls_for(
    request: &Request,
    setup: &Setup,
    meter: u8,
    bar: usize,
    bars: usize,
    voices: usize,
) -> BarControls {
    let (sharps, minor) = signature_of(setup.scale);
    let density = density_bucket(request.density.at(bar, bars));
    BarControls {
        sharps,
        minor,
        meter,
        density,
        register: register_bucket(request.register.at(bar, bars)),
        intensity: intensity_token(request, setup, density, bar, bars, voices),
    }
}

/// The intensity token of bar `bar` of `bars` at density bucket `density`.
fn intensity_token(
    request: &Request,
    setup: &Setup,
    density: u8,
    bar: usize,
    bars: usize,
    voices: usize,
) -> u8 {
    intensity_bucket(density, request.intensity.at(bar, bars), setup.bpm, voices)
}

/// What the model chooses itself in a bar planned with `planned`: a density asked for as
/// [`Curve::Around`](crate::request::Curve::Around) lets it pick any bucket within one of
/// the planned one, a register asked for so, one for each phrase.
fn free_for(
    request: &Request,
    setup: &Setup,
    planned: &BarControls,
    bar: usize,
    bars: usize,
    voices: usize,
) -> FreeControls {
    let density = request.density.is_around().then(|| {
        let d = planned.density;
        let by_density: [u8; 8] =
            std::array::from_fn(|b| intensity_token(request, setup, b as u8, bar, bars, voices));
        (
            d.saturating_sub(1).max(1)..=(d + 1).min(DENSITY_BUCKETS - 1),
            by_density,
        )
    });
    // A register "around" a value moves by phrase, as a tune's strains do (a B strain a
    // little higher): the model picks a bucket within one of the planned one at the first bar
    // of every 4, and the phrase keeps it. (Picked every bar, ranges grew to 18-20
    // semitones against the human 16.)
    let register = request.register.is_around().then(|| {
        if bar.is_multiple_of(REGISTER_PHRASE_BARS) {
            let r = planned.register;
            let lo = r.saturating_sub(1).max(1).min(r);
            let hi = (r + 1).min(REGISTER_BUCKETS - 2).max(r);
            FreeRegister::Pick(lo..=hi)
        } else {
            FreeRegister::Keep
        }
    });
    FreeControls { density, register }
}

/// Bars a register picked "around" a value is held for: a phrase.
const REGISTER_PHRASE_BARS: usize = 4;

fn head(style: Style, bpm: f64) -> Vec<Token> {
    vec![
        Token::Bos,
        Token::Style(style),
        Token::Tempo(tempo_bucket(bpm)),
    ]
}

fn meter_of(index: u8) -> Meter {
    let (numerator, denominator) = leitmotif_tokens::vocab::METERS[usize::from(index)];
    Meter {
        numerator,
        denominator,
    }
}

/// A score at the composer's resolution, with everything the vocabulary needs checked.
fn at_grid(score: &Score) -> Result<Score, ComposeError> {
    score
        .validate()
        .map_err(|e| ComposeError::Request(format!("the given score is invalid: {e}")))?;
    Ok(match score.at_resolution(DEFAULT_PPQ) {
        Cow::Borrowed(s) => s.clone(),
        Cow::Owned(s) => s,
    })
}

/// The settings a request resolves to before planning.
pub(crate) fn setup(request: &Request) -> Result<Setup, ComposeError> {
    let style = request.style.unwrap_or(Style::Folk);
    match &request.task {
        Task::New => Ok(Setup {
            style,
            scale: request.key.unwrap_or_else(|| {
                Scale::new(tonic_from_seed(request.seed, request.mode), request.mode)
            }),
            bpm: request.tempo_bpm.unwrap_or(110.0),
            meter: request.meter.unwrap_or((4, 4)),
            from: None,
        }),
        Task::Continue { primer: score } | Task::Infill { score, .. } => {
            let score = at_grid(score)?;
            let q = quantize(&score)?;
            let bars = BarMap::new(&q);
            let last = bars.bars().last().map_or(0, |b| b.start);
            let (sharps, minor) = leitmotif_tokens::controls::key_at(
                &q,
                last,
                leitmotif_tokens::controls::estimated_key(&q),
            );
            let meter = q
                .time_signatures
                .last()
                .map_or((4, 4), |t| (t.numerator, t.denominator));
            let bpm = score.tempos.first().map_or(120.0, TempoChange::bpm);
            let continuing = matches!(request.task, Task::Continue { .. });
            Ok(Setup {
                style,
                // An infill keeps the score's key, in the requested mode where it can.
                scale: match request.key {
                    Some(key) if continuing => key,
                    asked => scale_written(sharps, minor, asked),
                },
                bpm: if continuing {
                    request.tempo_bpm.unwrap_or(bpm)
                } else {
                    bpm
                },
                meter: if continuing {
                    request.meter.unwrap_or(meter)
                } else {
                    meter
                },
                from: continuing.then_some((sharps, minor)),
            })
        }
    }
}

/// The first bar's controls for `voices` model-written layers (for the layer probe).
pub(crate) fn probe_controls(
    request: &Request,
    setup: &Setup,
    voices: usize,
) -> Result<BarControls, ComposeError> {
    let meter = meter_index(setup.meter.0, setup.meter.1).ok_or_else(|| {
        ComposeError::Request(format!(
            "meter {}/{} is unknown",
            setup.meter.0, setup.meter.1
        ))
    })?;
    Ok(controls_for(request, setup, meter, 0, 1, voices))
}

/// Builds the plan; `model_layers` are the layers the model writes.
pub(crate) fn plan(
    request: &Request,
    setup: &Setup,
    model_layers: &[Layer],
) -> Result<Plan, ComposeError> {
    let unit = unit_ticks();
    let meter_id = meter_index(setup.meter.0, setup.meter.1).ok_or_else(|| {
        ComposeError::Request(format!(
            "meter {}/{} is unknown",
            setup.meter.0, setup.meter.1
        ))
    })?;
    let units = u64::from(bar_units(meter_id).unwrap_or(48));
    let intervals = allowed_intervals(setup.scale.mode);
    let mut targets: Vec<Layer> = request.layers.clone();
    targets.sort();
    targets.dedup();
    let model: Vec<Layer> = targets
        .iter()
        .copied()
        .filter(|l| model_layers.contains(l))
        .collect();
    // The lead layer realises each bar's density and register where the model writes it.
    let lead = lead_layer(&targets).filter(|l| model.contains(l));
    // `n` new bars from `start` (grid units), every model layer sampled.
    let new_bars = |start: u64, n: usize| -> Vec<GenBar> {
        (0..n)
            .map(|i| {
                let controls = controls_for(request, setup, meter_id, i, n, model.len());
                GenBar {
                    controls,
                    origin: start + i as u64 * units,
                    intervals,
                    arrival: None,
                    register_window: true,
                    lead,
                    free: free_for(request, setup, &controls, i, n, model.len()),
                    items: model.iter().map(|&l| Item::Sample(l)).collect(),
                }
            })
            .collect()
    };
    match &request.task {
        Task::New => {
            let n = request.bars as usize;
            let bars = new_bars(0, n);
            // Nothing rings past the last bar (for a loop: into its first bar).
            let mut bounds = Bounds::open();
            bounds.ceiling = vec![Some(n as u64 * units); Layer::ALL.len()];
            Ok(Plan {
                prefix: head(setup.style, setup.bpm),
                bars,
                bounds,
                suffix: None,
                looped: request.looped,
                ends: true,
                model_layers: model,
                targets,
                base: Score::new(DEFAULT_PPQ),
                span: (0, n as u64 * units * unit),
                scale: setup.scale,
                bpm: setup.bpm,
                meter: meter_of(meter_id),
                first_bar: 1,
                total_bars: request.bars,
            })
        }
        Task::Continue { primer } => {
            let base = at_grid(primer)?;
            let q = quantize(&base)?;
            let tokens = encode(&q, setup.style)?;
            let (_, primer_bars) = split_bars(&tokens);
            let mut prefix = head(setup.style, setup.bpm);
            for bar in &primer_bars {
                prefix.extend(bar.flat());
            }
            // The quantized primer ends on a bar line after every note of the original.
            let start_units = q.end_tick / unit;
            let n = request.bars as usize;
            let mut bars = new_bars(start_units, n);
            // A new key is arrived at: the first bar after the seam sounds its tonic triad.
            if setup
                .from
                .is_some_and(|from| from != signature_of(setup.scale))
                && let Some(first) = bars.first_mut()
            {
                first.arrival = Some(arrival_intervals(setup.scale));
            }
            let mut bounds = Bounds::open();
            bounds.ceiling = vec![Some(start_units + n as u64 * units); Layer::ALL.len()];
            for (track, layer) in base.tracks.iter().zip(assign_layers(&base)) {
                let end = track.notes.iter().map(|n| n.end()).max().unwrap_or(0);
                let busy = &mut bounds.busy[layer.index()];
                *busy = (*busy).max(end.div_ceil(unit));
            }
            let primer_count = primer_bars.len() as u32;
            Ok(Plan {
                prefix,
                bars,
                bounds,
                suffix: None,
                looped: false,
                ends: true,
                model_layers: model,
                targets,
                span: (start_units * unit, (start_units + n as u64 * units) * unit),
                base,
                scale: setup.scale,
                bpm: setup.bpm,
                meter: meter_of(meter_id),
                first_bar: primer_count + 1,
                total_bars: primer_count + request.bars,
            })
        }
        Task::Infill {
            score,
            bars: range,
            layer,
        } => {
            let base = at_grid(score)?;
            let q = quantize(&base)?;
            let tokens = encode(&q, setup.style)?;
            let (_, all_bars) = split_bars(&tokens);
            let count = all_bars.len() as u32;
            if *range.end() > count {
                return Err(ComposeError::Request(format!(
                    "infill bars {}..{} reach past the score's {count} bars",
                    range.start(),
                    range.end()
                )));
            }
            let present: Vec<Layer> = assign_layers(&base)
                .into_iter()
                .zip(&base.tracks)
                .filter(|(_, t)| !t.notes.is_empty())
                .map(|(l, _)| l)
                .collect();
            let targets: Vec<Layer> = match layer {
                Some(l) => vec![*l],
                None => {
                    let mut t: Vec<Layer> = present
                        .iter()
                        .copied()
                        .filter(|l| crate::request::COMPOSED_LAYERS.contains(l))
                        .collect();
                    t.sort();
                    t.dedup();
                    t
                }
            };
            if targets.is_empty() {
                return Err(ComposeError::Request(
                    "the score has no melody, bass, chords or drums track to infill".to_owned(),
                ));
            }
            let first = (*range.start() - 1) as usize;
            let last = (*range.end() - 1) as usize;
            let bar_map = BarMap::new(&q);
            let start_tick = bar_map.bars()[first].start;
            let end_tick = bar_map.bars()[last].end();
            let mut prefix = head(setup.style, setup.bpm);
            for bar in &all_bars[..first] {
                prefix.extend(bar.flat());
            }
            let model: Vec<Layer> = targets
                .iter()
                .copied()
                .filter(|l| model_layers.contains(l))
                .collect();
            let gen_bars = all_bars[first..=last]
                .iter()
                .zip(&bar_map.bars()[first..=last])
                .map(|(tokens, span)| {
                    let c = tokens.controls;
                    let mut items: Vec<(Layer, Item)> = tokens
                        .layers
                        .iter()
                        .filter(|(l, _)| !targets.contains(l))
                        .map(|(l, block)| (*l, Item::Force(block.clone())))
                        .collect();
                    items.extend(model.iter().map(|&l| (l, Item::Sample(l))));
                    items.sort_by_key(|(l, _)| *l);
                    GenBar {
                        controls: c,
                        origin: span.start / unit,
                        // The bar's key, in the requested mode where it can.
                        intervals: allowed_intervals(
                            scale_written(c.sharps, c.minor, Some(setup.scale)).mode,
                        ),
                        arrival: None,
                        register_window: true,
                        lead: None,
                        free: FreeControls::default(),
                        items: items.into_iter().map(|(_, item)| item).collect(),
                    }
                })
                .collect();
            let mut bounds = Bounds::open();
            for (track, l) in base.tracks.iter().zip(assign_layers(&base)) {
                if !targets.contains(&l) {
                    continue;
                }
                let busy = track
                    .notes
                    .iter()
                    .filter(|n| n.start < start_tick)
                    .map(|n| n.end())
                    .max()
                    .unwrap_or(0);
                let slot = &mut bounds.busy[l.index()];
                *slot = (*slot).max(busy.div_ceil(unit));
            }
            for l in &targets {
                bounds.ceiling[l.index()] = Some(end_tick / unit);
            }
            Ok(Plan {
                prefix,
                bars: gen_bars,
                bounds,
                suffix: all_bars.get(last + 1).map(BarTokens::flat),
                looped: false,
                ends: false,
                model_layers: model,
                targets,
                span: (start_tick, end_tick),
                base,
                scale: setup.scale,
                bpm: setup.bpm,
                meter: meter_of(all_bars[first].controls.meter),
                first_bar: *range.start(),
                total_bars: count,
            })
        }
    }
}
