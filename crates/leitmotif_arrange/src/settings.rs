//! The arranger's inputs: the bar grid, the settings and what can be wrong with them.

use std::ops::RangeInclusive;

use leitmotif_score::theory::PitchClass;
use leitmotif_score::time::Meter;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One bar of the piece's time grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BarSlot {
    /// The bar's first tick.
    pub start: u64,
    /// Its length in ticks (usually [`Meter::ticks_per_bar`]; shorter when cut off).
    pub ticks: u64,
    /// The meter in force.
    pub meter: Meter,
    /// How intense the music is here, `0..=1` (values outside are clamped, NaN reads as 0.5).
    pub intensity: f64,
}

impl BarSlot {
    /// The tick after the bar.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.ticks)
    }

    /// The intensity clamped to `0..=1`, with NaN read as 0.5.
    pub fn level(&self) -> f64 {
        if self.intensity.is_nan() {
            0.5
        } else {
            self.intensity.clamp(0.0, 1.0)
        }
    }
}

/// What the arranger may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrangeSettings {
    /// Ticks per quarter note of the bars and notes.
    pub ppq: u16,
    /// Pitch classes allowed (index = absolute pitch class, 0 = C).
    ///
    /// The composer passes the locked key's set: for a major key the major scale; for a
    /// minor key natural minor plus the raised 6th and 7th; for modes their scale.
    pub allowed: [bool; 12],
    /// The tonic pitch class (for cadences and tonic function).
    pub tonic: PitchClass,
    /// MIDI pitches the bass may use (default `28..=55`).
    pub bass_range: RangeInclusive<u8>,
    /// MIDI pitches the chord part may use (default `48..=76`).
    pub chord_range: RangeInclusive<u8>,
    /// Whether the phrase loops: the last bar then leads back to the first (preferring a
    /// dominant); otherwise it ends on the tonic.
    pub looped: bool,
    /// Seed of every random choice and of the velocity jitter.
    pub seed: u64,
}

impl ArrangeSettings {
    /// The default bass range, E1 to G3.
    pub const DEFAULT_BASS_RANGE: RangeInclusive<u8> = 28..=55;
    /// The default chord range, C3 to E5.
    pub const DEFAULT_CHORD_RANGE: RangeInclusive<u8> = 48..=76;

    /// Settings for `allowed` pitch classes around `tonic` at `ppq`, with the default
    /// ranges, not looped, seed 0.
    pub fn new(ppq: u16, allowed: [bool; 12], tonic: PitchClass) -> Self {
        Self {
            ppq,
            allowed,
            tonic,
            bass_range: Self::DEFAULT_BASS_RANGE,
            chord_range: Self::DEFAULT_CHORD_RANGE,
            looped: false,
            seed: 0,
        }
    }

    /// Checks that the settings can be arranged with.
    ///
    /// # Errors
    ///
    /// [`ArrangeError::ZeroPpq`], [`ArrangeError::NothingAllowed`], or
    /// [`ArrangeError::RangeWithoutAllowedPitch`] naming the part whose range holds no
    /// allowed pitch.
    pub fn validate(&self) -> Result<(), ArrangeError> {
        if self.ppq == 0 {
            return Err(ArrangeError::ZeroPpq);
        }
        if !self.allowed.iter().any(|&a| a) {
            return Err(ArrangeError::NothingAllowed);
        }
        for (part, range) in [("bass", &self.bass_range), ("chord", &self.chord_range)] {
            if !range.clone().any(|p| p <= 127 && self.allows(p)) {
                return Err(ArrangeError::RangeWithoutAllowedPitch {
                    part,
                    low: *range.start(),
                    high: *range.end(),
                });
            }
        }
        Ok(())
    }

    /// Whether the MIDI `pitch`'s pitch class is allowed.
    pub fn allows(&self, pitch: u8) -> bool {
        self.allowed[usize::from(pitch % 12)]
    }
}

/// Settings or bars the arranger cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ArrangeError {
    /// The settings give 0 ticks per quarter note.
    #[error("ppq is 0: the arranger needs at least one tick per quarter note")]
    ZeroPpq,
    /// No pitch class is allowed.
    #[error("no pitch class is allowed: the allowed set is empty")]
    NothingAllowed,
    /// A part's pitch range holds no allowed pitch.
    #[error("the {part} range {low}..={high} holds no allowed pitch")]
    RangeWithoutAllowedPitch {
        /// Which part's range: `"bass"` or `"chord"`.
        part: &'static str,
        /// The range's lowest pitch.
        low: u8,
        /// The range's highest pitch.
        high: u8,
    },
    /// A given chord progression has no chords.
    #[error("the chord progression is empty")]
    EmptyProgression,
    /// A feel amount outside `0..=1`.
    #[error("{name} {value} is outside 0..=1")]
    FeelOutOfRange {
        /// `"humanize"` or `"swing"`.
        name: &'static str,
        /// The value given.
        value: String,
    },
    /// A bar has no ticks.
    #[error("bar {index} is empty (0 ticks)")]
    EmptyBar {
        /// The bar's position in the list.
        index: usize,
    },
    /// A bar ends past the largest tick a `u64` can hold.
    #[error("bar {index} ends past the largest representable tick")]
    BarPastTickLimit {
        /// The bar's position in the list.
        index: usize,
    },
    /// A bar starts before the previous one ends.
    #[error(
        "bar {index} starts at tick {start}, before the previous bar ends at tick {previous_end}"
    )]
    BarsOverlap {
        /// The bar's position in the list.
        index: usize,
        /// Its start tick.
        start: u64,
        /// The tick where the bar before it ends.
        previous_end: u64,
    },
}

/// Checks that `bars` are non-empty and in order without overlap (gaps are allowed).
pub(crate) fn validate_bars(bars: &[BarSlot]) -> Result<(), ArrangeError> {
    let mut previous_end = None;
    for (index, bar) in bars.iter().enumerate() {
        if bar.ticks == 0 {
            return Err(ArrangeError::EmptyBar { index });
        }
        if bar.start.checked_add(bar.ticks).is_none() {
            return Err(ArrangeError::BarPastTickLimit { index });
        }
        if let Some(previous_end) = previous_end
            && bar.start < previous_end
        {
            return Err(ArrangeError::BarsOverlap {
                index,
                start: bar.start,
                previous_end,
            });
        }
        previous_end = Some(bar.end());
    }
    Ok(())
}

/// Checks both the settings and the bars.
pub(crate) fn validate(settings: &ArrangeSettings, bars: &[BarSlot]) -> Result<(), ArrangeError> {
    settings.validate()?;
    validate_bars(bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        let mut settings = ArrangeSettings::new(480, [true; 12], PitchClass::C);
        assert_eq!(settings.validate(), Ok(()));
        settings.ppq = 0;
        assert_eq!(settings.validate(), Err(ArrangeError::ZeroPpq));
        settings.ppq = 480;
        settings.allowed = [false; 12];
        assert_eq!(settings.validate(), Err(ArrangeError::NothingAllowed));
        settings.allowed[0] = true;
        settings.bass_range = 37..=40;
        let err = settings.validate().err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("the bass range 37..=40 holds no allowed pitch")
        );
        settings.bass_range = RangeInclusive::new(40, 30);
        assert!(settings.validate().is_err(), "an empty range holds nothing");
    }

    #[test]
    fn bars_must_not_overlap() {
        let bar = |start, ticks| BarSlot {
            start,
            ticks,
            meter: Meter::COMMON,
            intensity: 0.5,
        };
        assert_eq!(validate_bars(&[bar(0, 1920), bar(1920, 1920)]), Ok(()));
        assert_eq!(validate_bars(&[bar(0, 1920), bar(3840, 100)]), Ok(()));
        assert_eq!(
            validate_bars(&[bar(0, 1920), bar(1000, 1920)]),
            Err(ArrangeError::BarsOverlap {
                index: 1,
                start: 1000,
                previous_end: 1920
            })
        );
        assert_eq!(
            validate_bars(&[bar(0, 0)]),
            Err(ArrangeError::EmptyBar { index: 0 })
        );
        assert_eq!(
            validate_bars(&[bar(u64::MAX - 10, 1920)]),
            Err(ArrangeError::BarPastTickLimit { index: 0 })
        );
    }
}
