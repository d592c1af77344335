//! Given harmony: a chord progression laid over the bars, the strong beats, and how well a
//! melody's strong-beat notes fit a harmony.

use leitmotif_score::Note;
use leitmotif_score::theory::Chord;
use leitmotif_score::time::Meter;

use crate::harmony::HarmonySpan;
use crate::settings::{self, ArrangeError, BarSlot};

/// The harmony of a given progression: one chord per bar, in order, starting over from the
/// first chord when there are more bars than chords.
///
/// # Errors
///
/// [`ArrangeError::EmptyProgression`] for no chords; [`ArrangeError`] for empty or
/// overlapping bars.
pub fn progression(chords: &[Chord], bars: &[BarSlot]) -> Result<Vec<HarmonySpan>, ArrangeError> {
    if chords.is_empty() {
        return Err(ArrangeError::EmptyProgression);
    }
    settings::validate_bars(bars)?;
    Ok(bars
        .iter()
        .zip(chords.iter().cycle())
        .map(|(bar, &chord)| HarmonySpan {
            start: bar.start,
            end: bar.end(),
            chord,
        })
        .collect())
}

/// Whether `offset` ticks into a bar of `meter` is a strong beat: the downbeat, and in bars
/// of four or more pulses (an even count) the middle pulse too: beats 1 and 3 of 4/4, the
/// first and third dotted quarters of 12/8, only the downbeat of 2/4, 3/4, 6/8 or 5/4.
pub fn strong_beat(meter: Meter, ppq: u16, offset: u64) -> bool {
    let bar = meter.ticks_per_bar(ppq).max(1);
    let offset = offset % bar;
    let pulses = u64::from(meter.pulses_per_bar());
    offset == 0 || (pulses >= 4 && pulses.is_multiple_of(2) && offset * 2 == bar)
}

/// How many melody notes start on a strong beat, and how many of those are tones of the
/// chord sounding there (see [`chord_tone_share`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChordToneShare {
    /// Melody notes starting on a strong beat of a bar with a chord.
    pub strong: usize,
    /// Of those, the notes whose pitch class is a tone of that chord.
    pub chord_tones: usize,
}

impl ChordToneShare {
    /// `chord_tones / strong`, or `None` when no note starts on a strong beat.
    pub fn share(&self) -> Option<f64> {
        (self.strong > 0).then(|| self.chord_tones as f64 / self.strong as f64)
    }
}

impl std::ops::Add for ChordToneShare {
    type Output = Self;

    /// Both counts summed (to pool several pieces).
    fn add(self, other: Self) -> Self {
        Self {
            strong: self.strong + other.strong,
            chord_tones: self.chord_tones + other.chord_tones,
        }
    }
}

impl std::ops::AddAssign for ChordToneShare {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

/// Counts the `melody` notes that start on a [strong beat](strong_beat) of `bars` and those
/// of them whose pitch class belongs to the chord of the `harmony` span holding their onset.
/// Notes outside the bars or the spans are not counted.
pub fn chord_tone_share(
    melody: &[Note],
    harmony: &[HarmonySpan],
    bars: &[BarSlot],
    ppq: u16,
) -> ChordToneShare {
    let mut count = ChordToneShare::default();
    for note in melody {
        let Some(bar) = bars
            .iter()
            .find(|b| b.start <= note.start && note.start < b.end())
        else {
            continue;
        };
        if !strong_beat(bar.meter, ppq, note.start - bar.start) {
            continue;
        }
        let Some(span) = harmony
            .iter()
            .find(|s| s.start <= note.start && note.start < s.end)
        else {
            continue;
        };
        count.strong += 1;
        let pitch_class = leitmotif_score::theory::PitchClass::from_midi(note.pitch);
        if span.chord.contains(pitch_class) {
            count.chord_tones += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_score::theory::{ChordQuality, PitchClass};

    fn bars(n: u64) -> Vec<BarSlot> {
        (0..n)
            .map(|i| BarSlot {
                start: i * 1920,
                ticks: 1920,
                meter: Meter::COMMON,
                intensity: 0.5,
            })
            .collect()
    }

    #[test]
    fn a_progression_cycles_bar_by_bar() {
        let am = Chord::new(PitchClass::A, ChordQuality::Minor);
        let f = Chord::new(PitchClass::F, ChordQuality::Major);
        let spans = progression(&[am, f], &bars(5)).unwrap_or_default();
        let names: Vec<String> = spans.iter().map(|s| s.chord.to_string()).collect();
        assert_eq!(names, ["Am", "F", "Am", "F", "Am"]);
        assert_eq!((spans[2].start, spans[2].end), (3840, 5760));
        assert_eq!(
            progression(&[], &bars(2)),
            Err(ArrangeError::EmptyProgression)
        );
    }

    #[test]
    fn strong_beats_are_the_downbeat_and_the_middle_of_long_even_bars() {
        let ppq = 480;
        let strong = |meter: Meter| -> Vec<u64> {
            (0..meter.ticks_per_bar(ppq) / 240)
                .map(|i| i * 240)
                .filter(|&o| strong_beat(meter, ppq, o))
                .collect()
        };
        let m = |numerator, denominator| Meter {
            numerator,
            denominator,
        };
        assert_eq!(strong(m(4, 4)), [0, 960]);
        assert_eq!(strong(m(3, 4)), [0]);
        assert_eq!(strong(m(2, 4)), [0]);
        assert_eq!(strong(m(6, 8)), [0]);
        assert_eq!(strong(m(12, 8)), [0, 1440]);
    }

    #[test]
    fn the_share_counts_strong_beat_chord_tones() {
        let c = Chord::new(PitchClass::C, ChordQuality::Major);
        let spans = progression(&[c], &bars(1)).unwrap_or_default();
        let note = |start, pitch| Note {
            start,
            duration: 240,
            pitch,
            velocity: 80,
        };
        // E on beat 1 (a chord tone), D on beat 3 (not one), F on beat 2 (weak: ignored).
        let melody = [note(0, 64), note(480, 65), note(960, 62)];
        let share = chord_tone_share(&melody, &spans, &bars(1), 480);
        assert_eq!(
            share,
            ChordToneShare {
                strong: 2,
                chord_tones: 1
            }
        );
        assert_eq!(share.share(), Some(0.5));
        assert_eq!(ChordToneShare::default().share(), None);
    }
}
