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
//!   set is never empty; within any octave of range every pitch class is there).
//!
//! No mask can leave a state with nothing allowed: ranges span an octave (so hold the
//! tonic), a layer is opened only where a note fits, and ending a layer is always allowed
//! once it has a note.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use leitmotif_model::{Sampler, Sampling};
use leitmotif_tokens::controls::BarControls;
use leitmotif_tokens::grammar::Grammar;
use leitmotif_tokens::vocab::DURATIONS;
use leitmotif_tokens::{Layer, Token, TokenKind, VOCAB_SIZE};

use crate::error::ComposeError;
use crate::request::SamplingSettings;
use crate::session::{Decoder, log_prob};

/// Most tokens one layer may take in one bar before the engine ends it at the next note
/// boundary.
pub(crate) const MAX_LAYER_TOKENS: usize = 160;

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
    /// The melody's pitches in this bar, around the requested register (`None`: its
    /// whole range).
    pub lead_range: Option<RangeInclusive<u8>>,
    /// The layers, in layer order.
    pub items: Vec<Item>,
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
    /// What the model thought of the tokens it picked, when asked to keep count.
    picks: PickScore,
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
            picks: PickScore::default(),
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
            picks: self.picks,
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
        match token {
            Token::Position(p) => self.onset = self.origin + u64::from(p),
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
        // The register window narrows the melody's range where at least an octave of it
        // is left (so an in-key pitch always remains).
        let full = self.rule(Layer::Melody).range.clone();
        self.lead_range = match &bar.lead_range {
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
        self.feed_all(&bar.controls.tokens())?;
        for item in &bar.items {
            match item {
                Item::Force(tokens) => self.feed_all(tokens)?,
                Item::Sample(layer) => self.sample_layer(*layer)?,
            }
        }
        Ok(())
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
                *slot = Token::from_id(id as u32).is_some_and(|t| self.allows(layer, t));
                any |= *slot;
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
