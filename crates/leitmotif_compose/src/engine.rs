//! Constrained decoding: the grammar state machine plus the request's hard constraints mask
//! the model's logits token by token, so that what comes out cannot break them.
//!
//! Masks, on top of the grammar (which already guarantees a decodable score, exact bar
//! lengths and meters):
//! - a locked key: a pitched layer's pitch token is allowed only if its interval above the
//!   bar's tonic is in the allowed set (drums are exempt);
//! - ranges: a pitch token is allowed only if the absolute pitch is in its layer's range
//!   (for the melody, narrowed to a window around the bar's requested register where an
//!   octave or more of the range is left);
//! - monophony: in a monophonic layer no second note joins an onset, and a position is
//!   allowed only at or after the end of the layer's previous note (across bar lines too);
//! - ceilings: where music that must be kept follows (an infill's next note, a loop's end),
//!   onsets and durations must end by then;
//! - given chords: a pitched note whose onset is a strong beat of a bar with a given chord
//!   must be one of the chord's tones (only where the key lets at least one through, so the
//!   set is never empty; within any octave of range every pitch class is there);
//! - the lead's bar targets ([`LeadTarget`]): the lead layer (the melody) starts as many notes
//!   as the bar's density bucket allows, no fewer, with room kept for the ones still needed,
//!   and its mean pitch ends in the register bucket, its running mean never far from it.
//!   These are soft: where they would leave nothing, the rules above alone decide.
//!
//! No mask can leave a state with nothing allowed: ranges span an octave (so hold the
//! tonic), a layer is opened only where a note fits, and ending a layer is always allowed
//! once it has a note.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use leitmotif_model::{Sampler, Sampling};
use leitmotif_tokens::controls::BarControls;
use leitmotif_tokens::grammar::Grammar;
use leitmotif_tokens::vocab::{
    DENSITY_BOUNDS, DURATIONS, REGISTER_BOUNDS, UNITS_PER_QUARTER, bucket_bounds,
};
use leitmotif_tokens::{Layer, Token, TokenKind, VOCAB_SIZE};

use crate::error::ComposeError;
use crate::request::SamplingSettings;
use crate::session::{Decoder, log_prob};

/// Most tokens one layer may take in one bar before the engine ends it at the next note
/// boundary.
pub(crate) const MAX_LAYER_TOKENS: usize = 160;

/// How far (semitones) the running mean pitch of the lead's notes in a bar may stray from
/// its register bucket while the bar is written, so the melody stays near the register
/// asked for all through the bar instead of making up for a wander with a run at the end.
const LEAD_DRIFT: f64 = 3.0;

/// The hard rules of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerRule {
    /// Allowed absolute pitches.
    pub range: RangeInclusive<u8>,
    /// Whether notes may not overlap.
    pub monophonic: bool,
}

/// Everything masked besides the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rules {
    /// By [`Layer::index`].
    pub layers: Vec<LayerRule>,
    /// Whether out-of-key pitches are masked.
    pub key_lock: bool,
    /// Strong-beat onsets (grid units from the piece's start) of bars with a given chord,
    /// and the pitch classes (absolute, 0 = C) a pitched note starting there may take.
    pub chord_tones: BTreeMap<u64, [bool; 12]>,
}

/// What one bar does with a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// The model writes this layer (at least one note, where one fits).
    Sample(Layer),
    /// These tokens (a `Layer` token and its notes) are kept as they are.
    Force(Vec<Token>),
}

/// One bar to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenBar {
    /// The controls written before it.
    pub controls: BarControls,
    /// Grid units from the piece's start to this bar's start.
    pub origin: u64,
    /// Intervals above the tonic a locked key allows.
    pub intervals: [bool; 12],
    /// Fewer intervals the model's layers keep to in this bar (the first bar in a new key
    /// sounds its tonic triad); the arranger still has [`intervals`](Self::intervals).
    pub arrival: Option<[bool; 12]>,
    /// Whether the melody's pitches in this bar keep to a window around the bar's register
    /// bucket (otherwise its whole range).
    pub register_window: bool,
    /// The layer whose notes must realise the bar's density and register buckets (the
    /// lead, where the model writes it); `None`: the controls only condition the model.
    pub lead: Option<Layer>,
    /// Buckets the model chooses among for this bar's controls, instead of the planned ones.
    pub free: FreeControls,
    /// The layers, in layer order.
    pub items: Vec<Item>,
}

/// Controls the model picks for a bar itself, within a range of buckets (`None`: the
/// planned bucket is written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FreeControls {
    /// Density buckets, with the intensity token each implies (by density bucket).
    pub density: Option<(RangeInclusive<u8>, [u8; 8])>,
    /// The register: picked among buckets at a phrase's first bar, then held.
    pub register: Option<FreeRegister>,
}

/// How a bar's register is chosen when the model picks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FreeRegister {
    /// The model picks one of these buckets (a phrase starts).
    Pick(RangeInclusive<u8>),
    /// The bucket picked last is kept (the planned one if none was picked).
    Keep,
}

/// The lead layer's target in one bar: how many notes start in it and where their mean
/// pitch lies, read from the bar's density and register buckets as the training data's
/// labels read them ([`leitmotif_tokens::bar_controls`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LeadTarget {
    /// Fewest and most onsets (`None`: the density bucket cannot be met in this meter).
    onsets: Option<(u32, u32)>,
    /// The mean pitch lies in `(low, high]` (`None`: any).
    mean: Option<(f64, f64)>,
    /// The gap (grid units) between onsets when the plan checks that the notes still needed
    /// fit in what is left of the bar: as even as the fewest notes allow, at most an eighth.
    spacing: u64,
    /// The shortest note (at most a sixteenth).
    shortest: u64,
}

impl LeadTarget {
    /// The target of a bar of `units` grid units with these buckets.
    pub(crate) fn new(density: u8, register: u8, units: u8) -> Self {
        let quarters = f64::from(units) / UNITS_PER_QUARTER as f64;
        let onsets = bucket_bounds(density, &DENSITY_BOUNDS).map(|(low, high)| {
            let low = low.max(0.0) * quarters;
            let high = high.min(f64::from(units) / 2.0 / quarters) * quarters;
            let (fewest, most) = (
                (low + 1e-9).floor() as u32 + 1,
                (high + 1e-9).floor() as u32,
            );
            if fewest <= most {
                (fewest, most)
            } else {
                // No whole number of notes lands in this bucket in so short a bar: the
                // count nearest to it (a neighbouring bucket).
                let nearest = ((low + high) / 2.0).round().max(1.0) as u32;
                (nearest, nearest)
            }
        });
        let fewest = onsets.map_or(1, |(f, _)| u64::from(f.max(1)));
        Self {
            onsets,
            mean: bucket_bounds(register, &REGISTER_BOUNDS),
            spacing: (u64::from(units) / fewest).clamp(1, 6),
            shortest: (u64::from(units) / fewest).clamp(1, 3),
        }
    }
}

/// The lead layer's progress through its bar target.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LeadState {
    layer: Layer,
    target: LeadTarget,
    /// The lowest and highest pitches the bar's later notes are counted on to reach when its
    /// mean is steered into the register bucket: the allowed ones inside the bucket's bounds
    /// (or, where none is, in the whole range), so the mean never drifts so far that only
    /// leaps to the range's edge could bring it back. `None`: any mean will do.
    span: Option<(f64, f64)>,
    /// Notes started in this bar, and the sum of their pitches.
    count: u32,
    pitch_sum: f64,
}

impl LeadState {
    /// The fewest further notes (a number in `counts`), each within [`span`](Self::span),
    /// that can bring the mean pitch of `count` notes summing to `sum` into the target's
    /// register bucket; `None` when no number can.
    fn notes_to_band(&self, sum: f64, count: u32, counts: RangeInclusive<u32>) -> Option<u32> {
        let (Some((lo, hi)), Some((low, high))) = (self.target.mean, self.span) else {
            return Some(*counts.start());
        };
        counts.into_iter().find(|&k| {
            let n = f64::from(count + k);
            let k = f64::from(k);
            n > 0.0 && (sum + k * high) / n > lo && (sum + k * low) / n <= hi
        })
    }
}

/// Per-layer time bounds, in grid units from the piece's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// A monophonic layer's next note may not start before this.
    pub busy: Vec<u64>,
    /// Notes must end by this (kept music follows, or a loop ends).
    pub ceiling: Vec<Option<u64>>,
}

impl Bounds {
    /// No bounds.
    pub(crate) fn open() -> Self {
        Self {
            busy: vec![0; Layer::ALL.len()],
            ceiling: vec![None; Layer::ALL.len()],
        }
    }
}

/// The decoding loop: a decoder, the grammar, the rules, the sampler.
#[derive(Clone)]
pub(crate) struct Engine<'r, D: Decoder> {
    decoder: D,
    grammar: Grammar,
    rules: &'r Rules,
    bounds: Bounds,
    sampler: SamplerState,
    /// Every token fed.
    pub tokens: Vec<Token>,
    /// Onset of the note being written, grid units from the start.
    onset: u64,
    /// The current bar's origin and allowed intervals.
    origin: u64,
    intervals: [bool; 12],
    /// The melody's range in the current bar.
    lead_range: RangeInclusive<u8>,
    /// The current bar's lead target, while its lead layer is written.
    lead: Option<LeadState>,
    /// What the model thought of the tokens it picked, when asked to keep count.
    picks: PickScore,
    /// The register bucket the model last picked for a phrase ([`FreeRegister`]).
    held_register: Option<u8>,
}

/// The model's log-probability of every token picked since counting began (for choosing
/// among whole drafts).
#[derive(Debug, Clone, Copy, Default)]
struct PickScore {
    counting: bool,
    nats: f64,
    picked: usize,
}

#[derive(Debug, Clone)]
struct SamplerState {
    settings: SamplingSettings,
    seed: u64,
    draws: u64,
}

impl SamplerState {
    /// A fresh sampler per draw, seeded from the request's seed and the draw number: the
    /// same request draws the same tokens, and a fork can be reseeded independently.
    fn sampler(&mut self) -> Sampler {
        let s = self.settings;
        let sampling = if s.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::TopP {
                p: s.top_p.unwrap_or(1.0),
                temperature: s.temperature,
            }
        };
        self.draws += 1;
        let seed = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(self.draws);
        Sampler::new(sampling, seed)
    }
}

impl<'r, D: Decoder> Engine<'r, D> {
    /// An engine with nothing fed.
    pub(crate) fn new(decoder: D, rules: &'r Rules, settings: SamplingSettings, seed: u64) -> Self {
        Self {
            decoder,
            grammar: Grammar::new(),
            rules,
            bounds: Bounds::open(),
            sampler: SamplerState {
                settings,
                seed,
                draws: 0,
            },
            tokens: Vec::new(),
            onset: 0,
            origin: 0,
            intervals: [true; 12],
            lead_range: rules.layers[Layer::Melody.index()].range.clone(),
            lead: None,
            picks: PickScore::default(),
            held_register: None,
        }
    }

    /// Counts, from here on, what the model thinks of every token it picks: the unmasked
    /// log-probability its logits gave the token (on the GPU this reads each step's logits
    /// back).
    pub(crate) fn count_picks(&mut self) {
        self.picks = PickScore {
            counting: true,
            ..PickScore::default()
        };
    }

    /// Mean bits per picked token since [`count_picks`](Self::count_picks) or the last
    /// [`reseed`](Self::reseed) (0 when nothing was picked): lower is likelier.
    pub(crate) fn picked_bits(&self) -> f64 {
        if self.picks.picked == 0 {
            0.0
        } else {
            self.picks.nats / self.picks.picked as f64 / std::f64::consts::LN_2
        }
    }

    /// Sets the time bounds for what follows.
    pub(crate) fn set_bounds(&mut self, bounds: Bounds) {
        self.bounds = bounds;
    }

    /// Draws from another seed from here on (for candidates forked from one prefix).
    pub(crate) fn reseed(&mut self, seed: u64) {
        self.sampler.seed = seed;
        self.sampler.draws = 0;
        self.picks.nats = 0.0;
        self.picks.picked = 0;
    }

    /// The decoder (for scoring what follows).
    pub(crate) fn decoder_mut(&mut self) -> &mut D {
        &mut self.decoder
    }

    /// The decoder.
    pub(crate) fn decoder(&self) -> &D {
        &self.decoder
    }

    /// This engine (grammar, bounds, sampler, tokens) over another decoder, which must
    /// have been fed the same tokens.
    pub(crate) fn with_decoder<E: Decoder>(&self, decoder: E) -> Engine<'r, E> {
        Engine {
            decoder,
            grammar: self.grammar.clone(),
            rules: self.rules,
            bounds: self.bounds.clone(),
            sampler: self.sampler.clone(),
            tokens: self.tokens.clone(),
            onset: self.onset,
            origin: self.origin,
            intervals: self.intervals,
            lead_range: self.lead_range.clone(),
            lead: self.lead,
            picks: self.picks,
            held_register: self.held_register,
        }
    }

    /// Feeds a token the plan dictates.
    ///
    /// # Errors
    /// [`ComposeError::Constraint`] if the grammar refuses it (a bug in the plan).
    pub(crate) fn feed(&mut self, token: Token) -> Result<(), ComposeError> {
        self.grammar
            .advance(token)
            .map_err(|e| ComposeError::Constraint(format!("planned token refused: {e}")))?;
        let in_lead = self
            .lead
            .is_some_and(|lead| self.grammar.layer() == Some(lead.layer));
        match token {
            Token::Position(p) => {
                self.onset = self.origin + u64::from(p);
                if let Some(lead) = self.lead.as_mut().filter(|_| in_lead) {
                    lead.count += 1;
                }
            }
            Token::Pitch(p) if in_lead => {
                let absolute = f64::from(p) + f64::from(self.grammar.tonic());
                if let Some(lead) = self.lead.as_mut() {
                    lead.pitch_sum += absolute;
                }
            }
            Token::Duration(d) => {
                if let Some(layer) = self.grammar.layer()
                    && self.rule(layer).monophonic
                {
                    let end = self.onset + u64::from(DURATIONS[usize::from(d)]);
                    let busy = &mut self.bounds.busy[layer.index()];
                    *busy = (*busy).max(end);
                }
            }
            _ => {}
        }
        self.decoder.feed(token);
        self.tokens.push(token);
        Ok(())
    }

    /// Feeds every token of `tokens`.
    ///
    /// # Errors
    /// As [`feed`](Self::feed).
    pub(crate) fn feed_all(&mut self, tokens: &[Token]) -> Result<(), ComposeError> {
        tokens.iter().try_for_each(|&t| self.feed(t))
    }

    fn rule(&self, layer: Layer) -> &LayerRule {
        &self.rules.layers[layer.index()]
    }

    /// Writes one bar: its controls, then each item.
    ///
    /// # Errors
    /// Model, sampling or plan errors.
    pub(crate) fn write_bar(&mut self, bar: &GenBar) -> Result<(), ComposeError> {
        self.origin = bar.origin;
        self.intervals = bar.arrival.unwrap_or(bar.intervals);
        self.lead = None;
        let mut controls = bar.controls;
        for token in bar.controls.tokens() {
            match token {
                Token::Density(_) if let Some((range, _)) = &bar.free.density => {
                    controls.density = self.choose(|t| match t {
                        Token::Density(d) if range.contains(&d) => Some(d),
                        _ => None,
                    })?;
                }
                Token::Register(planned) if let Some(free) = &bar.free.register => {
                    let register = match free {
                        FreeRegister::Pick(range) => self.choose(|t| match t {
                            Token::Register(r) if range.contains(&r) => Some(r),
                            _ => None,
                        })?,
                        FreeRegister::Keep => {
                            let held = self.held_register.unwrap_or(planned);
                            self.feed(Token::Register(held))?;
                            held
                        }
                    };
                    self.held_register = Some(register);
                    controls.register = register;
                }
                Token::Intensity(_) if let Some((_, by_density)) = &bar.free.density => {
                    let intensity = by_density[usize::from(controls.density).min(7)];
                    controls.intensity = intensity;
                    self.feed(Token::Intensity(intensity))?;
                }
                other => self.feed(other)?,
            }
        }
        // The register window narrows the melody's range where at least an octave of it
        // is left (so an in-key pitch always remains).
        let full = self.rule(Layer::Melody).range.clone();
        self.lead_range = match register_window(controls.register).filter(|_| bar.register_window) {
            Some(window) => {
                let lo = *window.start().max(full.start());
                let hi = *window.end().min(full.end());
                if hi >= lo && hi - lo >= 12 {
                    lo..=hi
                } else {
                    full
                }
            }
            None => full,
        };
        self.lead = bar.lead.map(|layer| {
            let target = LeadTarget::new(
                controls.density,
                controls.register,
                self.grammar.bar_units(),
            );
            LeadState {
                layer,
                target,
                span: self.lead_span(target.mean),
                count: 0,
                pitch_sum: 0.0,
            }
        });
        for item in &bar.items {
            match item {
                Item::Force(tokens) => self.feed_all(tokens)?,
                Item::Sample(layer) => self.sample_layer(*layer)?,
            }
        }
        self.lead = None;
        Ok(())
    }

    /// Lets the model pick one of the control tokens `bucket` gives a bucket for (and the
    /// grammar allows); returns that bucket.
    fn choose(&mut self, bucket: impl Fn(Token) -> Option<u8>) -> Result<u8, ComposeError> {
        let mut mask: Vec<bool> = (0..VOCAB_SIZE as u32)
            .map(|id| {
                Token::from_id(id).is_some_and(|t| bucket(t).is_some() && self.grammar.accepts(t))
            })
            .collect();
        if !mask.contains(&true) {
            return Err(ComposeError::Constraint(format!(
                "no control token allowed after {:?}",
                self.tokens.last()
            )));
        }
        let token = self.pick(&mut mask)?;
        self.feed(token)?;
        bucket(token).ok_or_else(|| {
            ComposeError::Constraint(format!("{token:?} was picked outside the mask"))
        })
    }

    /// Whether a note of `layer` can start somewhere in the current bar.
    fn fits(&self, layer: Layer) -> bool {
        (0..self.grammar.bar_units()).any(|p| self.position_ok(layer, p))
    }

    fn position_ok(&self, layer: Layer, p: u8) -> bool {
        let at = self.origin + u64::from(p);
        let i = layer.index();
        (!self.rule(layer).monophonic || at >= self.bounds.busy[i])
            && self.bounds.ceiling[i].is_none_or(|c| at < c)
    }

    fn pitch_ok(&self, layer: Layer, p: u8) -> bool {
        if !layer.is_pitched() {
            return self.rule(layer).range.contains(&p);
        }
        let absolute = u16::from(p) + u16::from(self.grammar.tonic());
        let range = if layer == Layer::Melody {
            &self.lead_range
        } else {
            &self.rule(layer).range
        };
        u8::try_from(absolute).is_ok_and(|a| range.contains(&a))
            && (!self.rules.key_lock || self.intervals[usize::from(p % 12)])
            && self
                .rules
                .chord_tones
                .get(&self.onset)
                .is_none_or(|tones| tones[usize::from(absolute % 12)])
    }

    /// Lets the model write `layer`'s notes in the current bar.
    fn sample_layer(&mut self, layer: Layer) -> Result<(), ComposeError> {
        if !self.fits(layer) {
            return Ok(());
        }
        self.feed(Token::Layer(layer))?;
        let mut mask = vec![false; VOCAB_SIZE];
        let mut written = 0usize;
        loop {
            let at_boundary = self.grammar.expected().contains(&TokenKind::Bar);
            if at_boundary && written >= MAX_LAYER_TOKENS {
                return Ok(());
            }
            let mut any = false;
            for (id, slot) in mask.iter_mut().enumerate() {
                *slot = Token::from_id(id as u32)
                    .is_some_and(|t| self.allows(layer, t) && self.on_target(layer, t));
                any |= *slot;
            }
            if !any {
                // The bar's target cannot be met from here: the hard rules alone.
                for (id, slot) in mask.iter_mut().enumerate() {
                    *slot = Token::from_id(id as u32).is_some_and(|t| self.allows(layer, t));
                    any |= *slot;
                }
            }
            if !any {
                return Err(ComposeError::Constraint(format!(
                    "nothing allowed after {:?}",
                    self.tokens.last()
                )));
            }
            let token = self.pick(&mut mask)?;
            if matches!(token, Token::Layer(_) | Token::Bar | Token::Eos) {
                // The model ends the layer; the plan says what comes next.
                return Ok(());
            }
            self.feed(token)?;
            written += 1;
        }
    }

    /// Whether `token` may come next while the model writes `layer`.
    fn allows(&self, layer: Layer, token: Token) -> bool {
        if !self.grammar.accepts(token) {
            return false;
        }
        let rule = self.rule(layer);
        match token {
            // Ending the layer (any of these means "done").
            Token::Layer(_) | Token::Bar | Token::Eos => true,
            Token::Position(p) => self.position_ok(layer, p),
            Token::Velocity(_) if self.grammar.joins_chord() => {
                !rule.monophonic && self.chord_room(layer)
            }
            Token::Velocity(_) => true,
            Token::Pitch(p) => {
                (!rule.monophonic || !self.grammar.joins_chord()) && self.pitch_ok(layer, p)
            }
            Token::Duration(d) => self.bounds.ceiling[layer.index()]
                .is_none_or(|c| self.onset + u64::from(DURATIONS[usize::from(d)]) <= c),
            _ => false,
        }
    }

    /// Whether `token` keeps the lead layer able to land on its bar's density and register
    /// buckets: no note past the most the bucket allows, none so late (or so long) that the
    /// fewest cannot all start by the bar's end at the target's spacing, no pitch whose
    /// running mean the rest of the bar could not bring back into the register bucket, and
    /// no end before both are met (while another note still fits).
    fn on_target(&self, layer: Layer, token: Token) -> bool {
        let Some(lead) = self.lead.filter(|l| l.layer == layer) else {
            return true;
        };
        let target = lead.target;
        let (step, shortest) = (target.spacing, target.shortest);
        let limit = self.lead_limit(layer);
        let (fewest, most) = target.onsets.unwrap_or((1, u32::MAX));
        // Whether `k` more notes fit, the first starting at `from` or later, `step` apart,
        // the last one at least a `shortest` long.
        let room = |k: u32, from: u64| k == 0 || from + u64::from(k - 1) * step + shortest <= limit;
        let in_band = |sum: f64, count: u32| {
            count > 0
                && target.mean.is_none_or(|(lo, hi)| {
                    let mean = sum / f64::from(count);
                    mean > lo && mean <= hi
                })
        };
        match token {
            Token::Layer(_) | Token::Bar | Token::Eos => {
                let next = self.bounds.busy[layer.index()]
                    .max(self.onset + 1)
                    .max(self.origin);
                let more = lead.count < most && next < limit;
                (lead.count >= fewest && in_band(lead.pitch_sum, lead.count)) || !more
            }
            Token::Position(p) => {
                let at = self.origin + u64::from(p);
                let left = most.saturating_sub(lead.count);
                // Notes still needed, this one included: for the count, and for the mean.
                let needed = fewest.saturating_sub(lead.count).max(
                    lead.notes_to_band(lead.pitch_sum, lead.count, 1..=left.max(1))
                        .unwrap_or(0),
                );
                left > 0 && room(needed.max(1), at)
            }
            Token::Pitch(p) if !self.grammar.joins_chord() => {
                let sum = lead.pitch_sum + f64::from(p) + f64::from(self.grammar.tonic());
                let fits_after = (limit.saturating_sub(shortest + self.onset) / step) as u32;
                let kmin = fewest.saturating_sub(lead.count);
                let kmax = most.saturating_sub(lead.count).min(fits_after);
                // Steered evenly: the running mean stays near the bucket, and the fewest
                // notes still to come (or one more) must be able to bring it in.
                let drift = target.mean.is_none_or(|(lo, hi)| {
                    let mean = sum / f64::from(lead.count.max(1));
                    mean > lo - LEAD_DRIFT && mean <= hi + LEAD_DRIFT
                });
                drift
                    && lead
                        .notes_to_band(sum, lead.count, kmin..=kmax.min(kmin + 1).max(kmin))
                        .is_some()
            }
            Token::Duration(d) => {
                let units = u64::from(DURATIONS[usize::from(d)]);
                let end = self.onset + units;
                let left = most.saturating_sub(lead.count);
                let needed = fewest.saturating_sub(lead.count).max(
                    lead.notes_to_band(lead.pitch_sum, lead.count, 0..=left)
                        .unwrap_or(0),
                );
                end <= limit && units >= shortest && room(needed.min(left), end)
            }
            _ => true,
        }
    }

    /// The allowed melody pitches in the current bar (range, key) within the register
    /// bucket `mean`, or all of them where none is: see [`LeadState::span`].
    fn lead_span(&self, mean: Option<(f64, f64)>) -> Option<(f64, f64)> {
        let (lo, hi) = mean?;
        let tonic = u16::from(self.grammar.tonic());
        let allowed: Vec<f64> = self
            .lead_range
            .clone()
            .filter(|&a| {
                u16::from(a) >= tonic
                    && (!self.rules.key_lock
                        || self.intervals[usize::from((u16::from(a) - tonic) % 12)])
            })
            .map(f64::from)
            .collect();
        let inside = || {
            allowed
                .iter()
                .copied()
                .filter(|&p| p >= lo.ceil() && p <= hi)
        };
        let (low, high) = match (inside().next(), inside().next_back()) {
            (Some(low), Some(high)) => (low, high),
            _ => (*allowed.first()?, *allowed.last()?),
        };
        Some((low, high))
    }

    /// Where the lead's notes must end in the current bar: its end, or a ceiling before it.
    fn lead_limit(&self, layer: Layer) -> u64 {
        let end = self.origin + u64::from(self.grammar.bar_units());
        self.bounds.ceiling[layer.index()].map_or(end, |c| c.min(end))
    }

    /// Whether an allowed pitch is left above the chord being written.
    fn chord_room(&self, layer: Layer) -> bool {
        let above = self.grammar.last_pitch().map_or(0, |p| p + 1);
        (above..=127).any(|p| self.pitch_ok(layer, p))
    }

    /// Draws a token among the allowed ones (top-k narrows them first); the decoder picks
    /// it where its logits are (on the host, or on the GPU).
    fn pick(&mut self, mask: &mut [bool]) -> Result<Token, ComposeError> {
        let mut sampler = self.sampler.sampler();
        let top_k = self.sampler.settings.top_k;
        let id = self.decoder.pick(mask, top_k, &mut sampler)?;
        let token = Token::from_id(id as u32)
            .ok_or_else(|| ComposeError::Constraint(format!("sampled id {id} out of range")))?;
        if self.picks.counting {
            self.picks.nats -= log_prob(self.decoder.logits()?, token);
            self.picks.picked += 1;
        }
        Ok(token)
    }

    /// The grammar's state (for the plan's checks).
    pub(crate) fn grammar(&self) -> &Grammar {
        &self.grammar
    }
}

/// How far (semitones) a melody's notes in a bar may go beyond its register bucket's
/// mean-pitch bounds: enough for the ranges human melodies span (a held-out 16-bar folk
/// melody spans 16 semitones on average; `leitmotif realism`).
const REGISTER_REACH: f64 = 10.0;

/// The melody pitches that suit register bucket `bucket`: its bucket's mean-pitch bounds
/// widened by [`REGISTER_REACH`] each way (`None` for bucket 0, an empty bar).
pub(crate) fn register_window(bucket: u8) -> Option<std::ops::RangeInclusive<u8>> {
    let (lo, hi) = bucket_bounds(bucket, &REGISTER_BOUNDS)?;
    // The open-ended buckets reach 5 semitones past the outermost bounds.
    let first = REGISTER_BOUNDS[0] - 5.0;
    let last = REGISTER_BOUNDS[REGISTER_BOUNDS.len() - 1] + 5.0;
    let (lo, hi) = (lo.max(first), hi.min(last));
    Some(
        (lo.floor() - REGISTER_REACH).max(0.0) as u8
            ..=(hi.ceil() + REGISTER_REACH).min(127.0) as u8,
    )
}
