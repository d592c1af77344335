//! Leitmotifs: a character's or place's theme that comes back, changed by what is happening.
//!
//! A [`Theme`] is the melody line of any score (a `.mid`, a `.melody.json` asset, music the
//! model wrote). [`Theme::fit`] restates it for the music playing, a [`ThemeTarget`]:
//!
//! - **key and mode by scale degree**: every note keeps its degree (and any chromatic
//!   inflection the target key allows) in the target scale, so a major theme turns minor
//!   in a tense mood while its contour stays note for note;
//! - **meter**: beats regroup between duple and triple time (a pair of beats becomes a
//!   long-short triple, a triple a pair) and straight subdivisions become compound ones,
//!   so every bar line of the theme lands on a bar line (or a half-bar) of the target;
//! - **tempo**: augmentation or diminution (×2, ×½, ×4, ×¼) keeps the theme's felt speed
//!   near its own when the target tempo is far from the theme's;
//! - **register**: whole octaves put it in the mood's register, inside the melody range.
//!
//! [`statement`] harmonises the fitted line under the mood's layers with the arranger and
//! returns a [`Composition`] ready to play. Later phrases develop the theme through the
//! composer's own tasks ([`development`]): a continuation primed with the statement, or an
//! infill that keeps a head (the theme's first half, a sequence, an inversion, a fragment)
//! and lets the model write the rest. [`recall`] measures how much of a theme a phrase
//! carries.
//!
//! ```
//! use leitmotif_request::theme::{Theme, ThemeTarget, recall};
//! use leitmotif_score::theory::{Mode, PitchClass, Scale};
//! use leitmotif_score::{Note, Role, Score, Track};
//!
//! // C D E G | C (a major theme in C).
//! let mut score = Score::default();
//! let mut melody = Track::new("Melody", Role::Melody, 73, 0);
//! for (i, pitch) in [60u8, 62, 64, 67, 72].into_iter().enumerate() {
//!     melody.notes.push(Note { start: i as u64 * 480, duration: 480, pitch, velocity: 90 });
//! }
//! score.tracks.push(melody);
//! score.normalize();
//! let theme = Theme::from_score(&score)?;
//!
//! // Stated in C minor: E becomes Eb, the contour stays.
//! let target = ThemeTarget::new(Scale::new(PitchClass::C, Mode::NaturalMinor), 120.0);
//! let fitted = theme.fit(&target)?;
//! let pitches: Vec<u8> = fitted.tracks[0].notes.iter().map(|n| n.pitch % 12).collect();
//! assert_eq!(pitches, [0, 2, 3, 7, 0]);
//! assert!(recall(&theme, &fitted, None).score > 0.99);
//! # Ok::<(), leitmotif_request::theme::ThemeError>(())
//! ```

mod develop;
mod fit;
mod recall;

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use leitmotif_arrange::{ArrangeSettings, BarSlot, arrange, shape_velocities};
use leitmotif_score::melody::ControlValue;
use leitmotif_score::theory::{Key, PitchClass, Scale};
use leitmotif_score::time::{BarMap, Meter};
use leitmotif_score::{
    DEFAULT_PPQ, KeySignatureChange, Note, Score, ScoreError, TempoChange, TimeSignatureChange,
    Track,
};
use leitmotif_tokens::Layer;
use thiserror::Error;

use crate::composition::{Composition, LayerReport, Source};
use crate::moods::Mood;
use crate::request::{LayerRanges, allowed_pitch_classes, register_bucket};

pub use develop::{Development, development};
pub use recall::{Recall, melody_line, recall};
pub(crate) use recall::{diatonic, key_at};

/// The longest theme accepted, in bars: a leitmotif is a phrase, not a piece (take a
/// theme's head with [`Theme::head`]).
pub const MAX_THEME_BARS: usize = 64;

/// Why a theme cannot be read, fitted or stated.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ThemeError {
    /// The score breaks a rule every score keeps.
    #[error("the theme is not a valid score: {0}")]
    Invalid(#[from] ScoreError),
    /// No pitched track has a note.
    #[error("the theme has no pitched notes (drums alone are no theme)")]
    Empty,
    /// Longer than [`MAX_THEME_BARS`].
    #[error("the theme is {bars} bars long; a theme has at most {max} (take its head)")]
    TooLong {
        /// Its length in bars.
        bars: usize,
        /// [`MAX_THEME_BARS`].
        max: usize,
    },
    /// No theme of that name has been registered.
    #[error("unknown theme {name:?} (registered: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated (or "none").
        known: String,
    },
    /// A target outside what the music can do (a tempo of 0, no bars, a meter the models
    /// do not know, a register outside 0..=1).
    #[error("invalid theme target: {0}")]
    Target(String),
    /// A development kind no one has heard of.
    #[error("unknown development {0:?}: use continue, ending, sequence, inversion or fragment")]
    UnknownDevelopment(String),
    /// The arranger refused the statement's bars.
    #[error(transparent)]
    Arrange(#[from] leitmotif_arrange::ArrangeError),
}

/// A theme: a monophonic melody line read from a score, from the bar its first note is in.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// The line at [`DEFAULT_PPQ`], from the theme's first bar line, monophonic.
    notes: Vec<Note>,
    meter: Meter,
    bpm: f64,
    key: Scale,
    /// Whole bars, in ticks.
    length: u64,
}

impl Theme {
    /// Reads the theme of `score`: its melody track (the track whose role is melody, else
    /// the first pitched track with notes), highest note first where notes start together,
    /// each note cut where the next begins; from the bar line before its first note to the
    /// end of the bar of its last. Tempo and meter are the first the score states (120 bpm
    /// and 4/4 when none); the key is estimated from every pitched note (Krumhansl-Schmuckler),
    /// and taken from the first key signature only when the notes leave it undecided.
    ///
    /// # Errors
    /// [`ThemeError::Invalid`] for a score that does not validate, [`ThemeError::Empty`]
    /// with no pitched notes, [`ThemeError::TooLong`] past [`MAX_THEME_BARS`].
    pub fn from_score(score: &Score) -> Result<Self, ThemeError> {
        score.validate()?;
        let score = score.at_resolution(DEFAULT_PPQ);
        let line = melody_line(&score);
        let first = line.first().ok_or(ThemeError::Empty)?.start;
        let bars = BarMap::new(&score);
        let bar = *bars.bar_at(first);
        let meter = bar.meter;
        let origin = bar.start;
        let end = line.iter().map(Note::end).max().unwrap_or(first + 1);
        let bar_ticks = meter.ticks_per_bar(DEFAULT_PPQ).max(1);
        let count = (end - origin).div_ceil(bar_ticks).max(1);
        let count_bars = usize::try_from(count).unwrap_or(usize::MAX);
        if count_bars > MAX_THEME_BARS {
            return Err(ThemeError::TooLong {
                bars: count_bars,
                max: MAX_THEME_BARS,
            });
        }
        let bpm = score
            .tempos
            .iter()
            .rev()
            .find(|t| t.tick <= origin)
            .map_or(120.0, TempoChange::bpm);
        let notes = line
            .into_iter()
            .map(|n| Note {
                start: n.start - origin,
                ..n
            })
            .collect();
        Ok(Self {
            notes,
            meter,
            bpm,
            key: key_of(&score),
            length: count * bar_ticks,
        })
    }

    /// The melody line, from the theme's first bar line at [`DEFAULT_PPQ`].
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The theme's own meter.
    pub fn meter(&self) -> Meter {
        self.meter
    }

    /// The theme's own tempo, in quarter notes per minute.
    pub fn bpm(&self) -> f64 {
        self.bpm
    }

    /// The theme's own key.
    pub fn key(&self) -> Scale {
        self.key
    }

    /// The same theme read in `key`: for music whose key is known (a phrase the composer
    /// wrote in it), where the estimate from a few bars of notes may name another key
    /// with the same notes and make [`fit`](Self::fit) move every degree.
    pub fn in_key(self, key: Scale) -> Self {
        Self { key, ..self }
    }

    /// Its length in bars of its own meter.
    pub fn bars(&self) -> u32 {
        let bar = self.meter.ticks_per_bar(DEFAULT_PPQ).max(1);
        u32::try_from(self.length / bar).unwrap_or(u32::MAX)
    }

    /// The first `bars` bars of the theme (all of it when it is shorter).
    ///
    /// # Errors
    /// [`ThemeError::Empty`] when no note starts in them.
    pub fn head(&self, bars: u32) -> Result<Self, ThemeError> {
        let bar = self.meter.ticks_per_bar(DEFAULT_PPQ).max(1);
        let end = (u64::from(bars) * bar).min(self.length);
        let notes: Vec<Note> = self
            .notes
            .iter()
            .filter(|n| n.start < end)
            .map(|n| Note {
                duration: n.duration.min(end - n.start),
                ..*n
            })
            .collect();
        if notes.is_empty() {
            return Err(ThemeError::Empty);
        }
        Ok(Self {
            notes,
            length: end,
            ..self.clone()
        })
    }

    /// The theme restated for `target`: one melody track in the target's key, tempo and
    /// meter, in its register, over whole bars (see the module docs for the rules).
    ///
    /// # Errors
    /// [`ThemeError::Target`] for a target out of range.
    pub fn fit(&self, target: &ThemeTarget) -> Result<Score, ThemeError> {
        self.fit_with_factor(target).map(|(score, _)| score)
    }

    /// [`fit`](Self::fit), and the time factor it applied (2: augmentation, ½: diminution).
    fn fit_with_factor(&self, target: &ThemeTarget) -> Result<(Score, f64), ThemeError> {
        target.validate()?;
        let fitted = fit::fit(self, target);
        let mut score = frame(target, fitted.length);
        let (name, program, channel) = Layer::Melody.track_defaults();
        let mut track = Track::new(name, Layer::Melody.role(), program, channel);
        track.notes = fitted.notes;
        score.tracks.push(track);
        score.normalize();
        score.validate()?;
        Ok((score, fitted.factor))
    }
}

/// The key of a score's notes; its first key signature when the notes leave it undecided.
pub fn key_of(score: &Score) -> Scale {
    let signature = score
        .key_signatures
        .first()
        .and_then(|k| Key::from_key_signature(k.sharps, k.minor).ok());
    leitmotif_tokens::controls::estimated_key(score)
        .or(signature)
        .unwrap_or(Key::major(PitchClass::C))
        .into()
}

/// Where and how a theme is stated: the music playing.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeTarget {
    /// Key and mode.
    pub key: Scale,
    /// Tempo in quarter notes per minute.
    pub bpm: f64,
    /// Meter.
    pub meter: Meter,
    /// Register, 0 (low) to 1 (high), as a mood gives it.
    pub register: f64,
    /// The melody's pitch range.
    pub range: RangeInclusive<u8>,
    /// Bars of the phrase: the theme is cut after them, or stated again to fill them.
    /// `None`: the fitted theme's own length.
    pub bars: Option<u32>,
}

impl ThemeTarget {
    /// `key` at `bpm` in 4/4, middle register, the default melody range, the theme's length.
    pub fn new(key: Scale, bpm: f64) -> Self {
        Self {
            key,
            bpm,
            meter: Meter::COMMON,
            register: 0.5,
            range: LayerRanges::default().melody,
            bars: None,
        }
    }

    /// The target a mood gives in `key` and `meter`: its tempo and register.
    pub fn for_mood(mood: &Mood, key: Scale, meter: Meter) -> Self {
        Self {
            meter,
            register: mood.register,
            ..Self::new(key, mood.tempo_bpm)
        }
    }

    fn validate(&self) -> Result<(), ThemeError> {
        let bad = |m: String| Err(ThemeError::Target(m));
        if !(self.bpm.is_finite() && (20.0..=400.0).contains(&self.bpm)) {
            return bad(format!("tempo must be 20..=400 bpm, not {}", self.bpm));
        }
        if leitmotif_tokens::vocab::meter_index(self.meter.numerator, self.meter.denominator)
            .is_none()
        {
            return bad(format!("meter {} is not one the models know", self.meter));
        }
        if !(self.register.is_finite() && (0.0..=1.0).contains(&self.register)) {
            return bad(format!("register {} is outside 0..=1", self.register));
        }
        if *self.range.end() > 127 || self.range.end() < self.range.start() {
            return bad(format!(
                "melody range {}..={} is not inside 0..=127",
                self.range.start(),
                self.range.end()
            ));
        }
        if let Some(bars) = self.bars
            && !(1..=crate::request::MAX_BARS).contains(&bars)
        {
            return bad(format!(
                "bars must be 1..={}, not {bars}",
                crate::request::MAX_BARS
            ));
        }
        Ok(())
    }

    /// The mean melody pitch the register asks for: the middle of the composer's register
    /// bucket for it.
    fn centre(&self) -> f64 {
        let bounds = leitmotif_tokens::vocab::REGISTER_BOUNDS;
        let b = usize::from(register_bucket(self.register));
        let lo = bounds[b.saturating_sub(2).min(bounds.len() - 1)];
        let hi = bounds[b.saturating_sub(1).min(bounds.len() - 1)];
        (lo + hi) / 2.0
    }
}

/// The key signature a scale is written with.
fn signature(scale: Scale) -> (i8, bool) {
    let minor = scale.mode.is_minor();
    let key = if minor {
        Key::minor(scale.tonic)
    } else {
        Key::major(scale.tonic)
    };
    key.key_signature()
}

/// An empty score of `length` ticks with the target's tempo, meter and key.
fn frame(target: &ThemeTarget, length: u64) -> Score {
    let mut score = Score::new(DEFAULT_PPQ);
    score.name = "Theme".to_owned();
    // A validated target's tempo is in range, so this cannot fail; 120 bpm is MIDI's own.
    score.tempos = TempoChange::from_bpm(0, target.bpm).into_iter().collect();
    score.time_signatures = vec![TimeSignatureChange {
        tick: 0,
        numerator: target.meter.numerator,
        denominator: target.meter.denominator,
    }];
    let (sharps, minor) = signature(target.key);
    score.key_signatures = vec![KeySignatureChange {
        tick: 0,
        sharps,
        minor,
    }];
    score.end_tick = length;
    score
}

/// The theme stated for `target` and harmonised under `layers` by the arranger: the fitted
/// melody (its velocities shaped by bar and beat) over bass, chords and drums written on
/// its harmony at `intensity`, seeded by `seed`. The whole phrase is its written span.
///
/// # Errors
/// [`ThemeError::Target`] for a target out of range; [`ThemeError::Arrange`] if the
/// arranger refuses the bars.
pub fn statement(
    theme: &Theme,
    target: &ThemeTarget,
    layers: &[Layer],
    intensity: f64,
    seed: u64,
) -> Result<Composition, ThemeError> {
    let (fitted, factor) = theme.fit_with_factor(target)?;
    let melody = fitted.tracks[0].notes.clone();
    let mut composition = arranged(melody, target, fitted.end_tick, layers, intensity, seed)?;
    composition.controls.insert(
        "theme_bars".to_owned(),
        ControlValue::Number(theme.bars().into()),
    );
    composition.controls.insert(
        "theme_key".to_owned(),
        ControlValue::Text(theme.key().to_string()),
    );
    composition
        .controls
        .insert("theme_time_factor".to_owned(), ControlValue::Number(factor));
    composition.controls.insert(
        "theme_meter".to_owned(),
        ControlValue::Text(theme.meter().to_string()),
    );
    Ok(composition)
}

/// `melody` (in `target`'s key, tempo and meter, over `length` ticks) harmonised under
/// `layers`: a finished composition whose span is the whole phrase.
pub(crate) fn arranged(
    mut melody: Vec<Note>,
    target: &ThemeTarget,
    length: u64,
    layers: &[Layer],
    intensity: f64,
    seed: u64,
) -> Result<Composition, ThemeError> {
    let intensity = if intensity.is_finite() {
        intensity.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let mut score = frame(target, length);
    let bar_ticks = target.meter.ticks_per_bar(DEFAULT_PPQ);
    let slots: Vec<BarSlot> = (0..length.div_ceil(bar_ticks))
        .map(|i| BarSlot {
            start: i * bar_ticks,
            ticks: bar_ticks,
            meter: target.meter,
            intensity,
        })
        .collect();
    let allowed = allowed_pitch_classes(target.key);
    let ranges = LayerRanges {
        melody: target.range.clone(),
        ..LayerRanges::default()
    };
    let mut settings = ArrangeSettings::new(DEFAULT_PPQ, allowed, target.key.tonic);
    settings.bass_range = ranges.bass.clone();
    settings.chord_range = ranges.chords.clone();
    settings.seed = seed;
    shape_velocities(&mut melody, &slots, &settings);
    let mut wanted: Vec<Layer> = layers
        .iter()
        .copied()
        .filter(|l| crate::request::COMPOSED_LAYERS.contains(l))
        .chain([Layer::Melody])
        .collect();
    wanted.sort();
    wanted.dedup();
    let parts = arrange(&melody, &slots, &settings)?;
    let mut reports = Vec::new();
    for layer in wanted {
        let notes = match layer {
            Layer::Melody => melody.clone(),
            Layer::Bass => parts.bass.clone(),
            Layer::Chords => parts.chords.clone(),
            Layer::Drums => parts.drums.clone(),
            _ => continue,
        };
        let (name, program, channel) = layer.track_defaults();
        let mut track = Track::new(name, layer.role(), program, channel);
        track.notes = notes;
        track.sort_notes();
        reports.push(LayerReport {
            layer,
            source: if layer == Layer::Melody {
                Source::Theme
            } else {
                Source::Arranger
            },
            track: score.tracks.len(),
            notes: track.notes.len(),
            range: ranges.of(layer),
            monophonic: matches!(layer, Layer::Melody | Layer::Bass),
        });
        score.tracks.push(track);
    }
    score.normalize();
    score.validate()?;
    let bars = u32::try_from(slots.len()).unwrap_or(u32::MAX);
    let mut controls = BTreeMap::new();
    controls.insert("key".to_owned(), ControlValue::Text(target.key.to_string()));
    controls.insert("tempo_bpm".to_owned(), ControlValue::Number(target.bpm));
    controls.insert(
        "meter".to_owned(),
        ControlValue::Text(target.meter.to_string()),
    );
    controls.insert("bars".to_owned(), ControlValue::Number(bars.into()));
    controls.insert("register".to_owned(), ControlValue::Number(target.register));
    controls.insert("intensity".to_owned(), ControlValue::Number(intensity));
    Ok(Composition {
        allowed: slots
            .iter()
            .map(|s| (s.start, s.start + s.ticks, allowed))
            .collect(),
        span: (0, score.end_tick),
        score,
        key: target.key,
        tempo_bpm: target.bpm,
        meter: target.meter,
        bars: 1..=bars,
        total_bars: bars,
        layers: reports,
        key_lock: true,
        looped: false,
        seed,
        model: "theme statement".to_owned(),
        backend: "arranger".to_owned(),
        join_bits: None,
        candidate_bits: Vec::new(),
        tokens: 0,
        elapsed: std::time::Duration::ZERO,
        controls,
    })
}

/// The registered themes by name, with the typed lookup the director and the CLI share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThemeBook {
    themes: BTreeMap<String, Theme>,
}

impl ThemeBook {
    /// Registers (or replaces) `name`'s theme, read from `score`.
    ///
    /// # Errors
    /// What [`Theme::from_score`] refuses; the book is unchanged.
    pub fn register(&mut self, name: &str, score: &Score) -> Result<(), ThemeError> {
        let theme = Theme::from_score(score)?;
        self.themes.insert(name.to_owned(), theme);
        Ok(())
    }

    /// The theme called `name`.
    ///
    /// # Errors
    /// [`ThemeError::Unknown`] naming it and the registered themes.
    pub fn get(&self, name: &str) -> Result<&Theme, ThemeError> {
        self.themes.get(name).ok_or_else(|| ThemeError::Unknown {
            name: name.to_owned(),
            known: if self.themes.is_empty() {
                "none".to_owned()
            } else {
                self.themes.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        })
    }

    /// Whether a theme is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.themes.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.themes.keys().map(String::as_str)
    }
}
