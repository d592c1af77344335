//! Feel: the parts played off the exact grid, with a seeded groove, swing and velocity
//! variation.

use leitmotif_score::Note;
use leitmotif_score::time::Meter;
use serde::{Deserialize, Serialize};

use crate::dynamics::mix;
use crate::settings::{ArrangeError, BarSlot};

/// Salts that keep the groove's streams apart from each other and from the arranger's.
const GROOVE_TIMING: u64 = 0x6772_6f6f_7665_7431;
const GROOVE_VELOCITY: u64 = 0x6772_6f6f_7665_7632;
const PART_LAG: u64 = 0x6c61_6721;
const NOTE_TIMING: u64 = 0x6e6f_7465_7431;
const NOTE_VELOCITY: u64 = 0x6e6f_7465_7632;

/// How far the timing groove repeats: sixteen sixteenths (a 4/4 bar) from each bar's start.
const GROOVE_SLOTS: u64 = 16;

/// How the music is played: `humanize` loosens timing and velocity around the grid, `swing`
/// delays off-beat eighths. Both 0 (the default) is the exact grid.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Feel {
    /// 0 (exact) to 1 (loosest): onsets and ends move by up to
    /// [`MAX_SHIFT_PER_QUARTER`](Self::MAX_SHIFT_PER_QUARTER) of a quarter note times this,
    /// velocities by up to [`MAX_VELOCITY_CHANGE`](Self::MAX_VELOCITY_CHANGE) times this.
    /// Most of the shift is a groove: the same for every part at the same sixteenth of
    /// every bar; the rest is a small lag per part and a little per note.
    pub humanize: f64,
    /// 0 (straight) to 1 (triplet swing): each off-beat eighth is delayed by
    /// `swing` × a third of an eighth (a sixteenth lands proportionally inside its half
    /// beat). Only in meters counted in quarter or half notes; compound and eighth-note
    /// meters are left straight.
    pub swing: f64,
}

impl Feel {
    /// The largest timing shift at `humanize` 1, as a fraction of a quarter note (a twelfth:
    /// 40 ticks at 480 PPQ, 45 ms at 110 bpm).
    pub const MAX_SHIFT_PER_QUARTER: f64 = 1.0 / 12.0;
    /// The largest velocity change at `humanize` 1.
    pub const MAX_VELOCITY_CHANGE: f64 = 12.0;

    /// Whether this feel leaves every note as it is.
    pub fn is_exact(&self) -> bool {
        self.humanize == 0.0 && self.swing == 0.0
    }

    /// Checks both amounts are in `0..=1`.
    ///
    /// # Errors
    ///
    /// [`ArrangeError::FeelOutOfRange`] naming the amount.
    pub fn validate(&self) -> Result<(), ArrangeError> {
        for (name, value) in [("humanize", self.humanize), ("swing", self.swing)] {
            if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
                return Err(ArrangeError::FeelOutOfRange {
                    name,
                    value: value.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The most ticks `humanize` moves an onset at `ppq`, swing aside.
    pub fn max_shift(&self, ppq: u16) -> u64 {
        (f64::from(ppq) * Self::MAX_SHIFT_PER_QUARTER * self.humanize.clamp(0.0, 1.0)).round()
            as u64
    }

    /// The ticks an off-beat eighth is delayed by at `ppq` (in a meter that swings).
    pub fn swing_delay(&self, ppq: u16) -> u64 {
        (f64::from(ppq) / 6.0 * self.swing.clamp(0.0, 1.0)).round() as u64
    }
}

/// Whether `meter` swings: counted in quarter or half notes, and not compound.
fn swings(meter: Meter) -> bool {
    meter.denominator <= 4 && !meter.is_compound()
}

/// Plays parts with a [`Feel`] over the bars of a piece; the same seed, feel and notes
/// always give the same result.
#[derive(Debug, Clone, Copy)]
pub struct Humanizer<'a> {
    /// The feel.
    pub feel: Feel,
    /// Ticks per quarter note.
    pub ppq: u16,
    /// The seed of the groove and every per-note variation.
    pub seed: u64,
    /// The bars, in order. Only notes starting inside them move, and they stay inside:
    /// no onset moves before the first bar or to the last bar's end, and no note that ended
    /// by the last bar's end ends after it.
    pub bars: &'a [BarSlot],
}

impl Humanizer<'_> {
    /// `notes` (one part, told apart from the others by `voice`) played with the feel.
    ///
    /// Notes at one onset move together (a chord stays a chord). In a `monophonic` part no
    /// two notes overlap afterwards; in any part no pitch overlaps itself, and the onsets
    /// keep their order. With an exact feel the notes come back unchanged.
    pub fn part(&self, notes: &[Note], voice: u64, monophonic: bool) -> Vec<Note> {
        let (Some(first), Some(last)) = (self.bars.first(), self.bars.last()) else {
            return notes.to_vec();
        };
        if self.feel.is_exact() || self.ppq == 0 {
            return notes.to_vec();
        }
        let (lo, hi) = (first.start, last.end());
        let mut moved: Vec<(Note, Note)> = notes
            .iter()
            .map(|&n| {
                if n.start < lo || n.start >= hi {
                    return (n, n);
                }
                let end = n.end();
                let start = (self.timing(n.start, voice) as u64).clamp(lo, hi - 1);
                let ceiling = hi.max(end);
                let new_end = (self.timing(end, voice) as u64).clamp(start + 1, ceiling);
                let velocity = self.velocity(&n, voice);
                let played = Note {
                    start,
                    duration: new_end - start,
                    pitch: n.pitch,
                    velocity,
                };
                (n, played)
            })
            .collect();
        if monophonic {
            keep_apart(&mut moved);
        } else {
            let mut pitches: Vec<u8> = moved.iter().map(|(n, _)| n.pitch).collect();
            pitches.sort_unstable();
            pitches.dedup();
            let mut out = Vec::with_capacity(moved.len());
            for pitch in pitches {
                let mut same: Vec<(Note, Note)> = moved
                    .iter()
                    .copied()
                    .filter(|(n, _)| n.pitch == pitch)
                    .collect();
                keep_apart(&mut same);
                out.extend(same);
            }
            moved = out;
        }
        moved.into_iter().map(|(_, played)| played).collect()
    }

    /// The bar holding `tick` (the one it ends, for the last bar's end).
    fn bar_at(&self, tick: u64) -> Option<&BarSlot> {
        self.bars.iter().find(|b| b.start <= tick && tick < b.end())
    }

    /// Where `tick` is played: swung, then moved by the groove, the part's lag and the note's
    /// own variation; never below 0.
    fn timing(&self, tick: u64, voice: u64) -> i64 {
        let Some(bar) = self.bar_at(tick) else {
            return tick as i64;
        };
        let offset = tick - bar.start;
        let mut played = tick as f64;
        if swings(bar.meter) {
            played += self.swing_shift(offset);
        }
        let sixteenth = (u64::from(self.ppq) / 4).max(1);
        let slot = (offset / sixteenth) % GROOVE_SLOTS;
        let groove = unit(&[self.seed, GROOVE_TIMING, slot]);
        let lag = unit(&[self.seed, PART_LAG, voice]);
        let own = unit(&[self.seed, NOTE_TIMING, voice, tick]);
        let shift = (0.5 * groove + 0.2 * lag + 0.3 * own).clamp(-1.0, 1.0);
        let max = f64::from(self.ppq) * Feel::MAX_SHIFT_PER_QUARTER * self.feel.humanize;
        (played + shift * max).round().max(0.0) as i64
    }

    /// The swing delay of a point `offset` ticks into a bar: each quarter note's first half
    /// stretched and its second half squeezed so the off-beat eighth lands
    /// [`Feel::swing_delay`] late (fractional, rounded once with the rest).
    fn swing_shift(&self, offset: u64) -> f64 {
        let quarter = f64::from(self.ppq);
        let half = quarter / 2.0;
        let delay = quarter / 6.0 * self.feel.swing;
        let x = (offset % u64::from(self.ppq)) as f64;
        let warped = if x <= half {
            x * (half + delay) / half
        } else {
            half + delay + (x - half) * (half - delay) / half
        };
        warped - x
    }

    /// The note's velocity moved by the velocity groove and its own variation.
    fn velocity(&self, note: &Note, voice: u64) -> u8 {
        let offset = self
            .bar_at(note.start)
            .map_or(note.start, |b| note.start - b.start);
        let sixteenth = (u64::from(self.ppq) / 4).max(1);
        let slot = (offset / sixteenth) % GROOVE_SLOTS;
        let groove = unit(&[self.seed, GROOVE_VELOCITY, slot]);
        let own = unit(&[
            self.seed,
            NOTE_VELOCITY,
            voice,
            note.start,
            u64::from(note.pitch),
        ]);
        let change = (0.5 * groove + 0.5 * own) * Feel::MAX_VELOCITY_CHANGE * self.feel.humanize;
        (f64::from(note.velocity) + change)
            .round()
            .clamp(1.0, 127.0) as u8
    }
}

/// Keeps notes that did not overlap from overlapping once moved: onsets keep their order
/// (distinct onsets stay distinct) and a note is cut where the next one starts.
fn keep_apart(notes: &mut [(Note, Note)]) {
    notes.sort_by_key(|(original, _)| (original.start, original.end()));
    for i in 1..notes.len() {
        let (before, after) = notes.split_at_mut(i);
        let (prev_original, prev) = &mut before[i - 1];
        let (original, next) = &mut after[0];
        if original.start > prev_original.start && next.start <= prev.start {
            let end = next.end();
            next.start = prev.start + 1;
            next.duration = end.saturating_sub(next.start).max(1);
        }
        if prev_original.end() <= original.start && prev.end() > next.start {
            prev.duration = next.start.saturating_sub(prev.start).max(1);
        }
    }
}

/// A hash of `keys` spread evenly over `-1..=1`.
fn unit(keys: &[u64]) -> f64 {
    let h = keys.iter().fold(0u64, |acc, &k| mix(acc, k));
    let fraction = (h >> 11) as f64 / (1u64 << 53) as f64;
    fraction * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Eighth notes over `bars` bars of 4/4.
    fn eighths(bars: u64) -> Vec<Note> {
        (0..bars * 8)
            .map(|i| Note {
                start: i * 240,
                duration: 240,
                pitch: 60 + (i % 7) as u8,
                velocity: 80,
            })
            .collect()
    }

    fn humanizer(bars: &[BarSlot], humanize: f64, swing: f64, seed: u64) -> Humanizer<'_> {
        Humanizer {
            feel: Feel { humanize, swing },
            ppq: 480,
            seed,
            bars,
        }
    }

    #[test]
    fn an_exact_feel_changes_nothing() {
        let bars = bars(2);
        let notes = eighths(2);
        assert_eq!(humanizer(&bars, 0.0, 0.0, 9).part(&notes, 0, true), notes);
    }

    #[test]
    fn the_same_seed_plays_the_same_and_another_seed_differently() {
        let bars = bars(4);
        let notes = eighths(4);
        let a = humanizer(&bars, 0.5, 0.3, 1).part(&notes, 2, true);
        assert_eq!(a, humanizer(&bars, 0.5, 0.3, 1).part(&notes, 2, true));
        assert_ne!(a, humanizer(&bars, 0.5, 0.3, 2).part(&notes, 2, true));
        assert_ne!(a, notes);
    }

    #[test]
    fn shifts_stay_within_the_bound_and_the_part_stays_monophonic() {
        let bars = bars(4);
        let notes = eighths(4);
        for seed in 0..20 {
            for amount in [0.1, 0.5, 1.0] {
                let h = humanizer(&bars, amount, 0.0, seed);
                let max = h.feel.max_shift(480) as i64;
                let played = h.part(&notes, seed, true);
                assert_eq!(played.len(), notes.len());
                for (n, p) in notes.iter().zip(&played) {
                    let shift = p.start as i64 - n.start as i64;
                    assert!(shift.abs() <= max, "seed {seed}: shift {shift} > {max}");
                    assert!(p.start < 4 * 1920 && p.end() <= 4 * 1920);
                    assert!(p.velocity.abs_diff(n.velocity) <= (12.0 * amount).ceil() as u8);
                }
                assert!(played.windows(2).all(|w| w[0].end() <= w[1].start));
            }
        }
    }

    #[test]
    fn swing_delays_every_off_beat_eighth_by_the_same_amount() {
        let bars = bars(2);
        let notes = eighths(2);
        let h = humanizer(&bars, 0.0, 0.6, 3);
        let delay = h.feel.swing_delay(480);
        assert_eq!(delay, 48);
        for (n, p) in notes.iter().zip(h.part(&notes, 0, true)) {
            let expected = if n.start % 480 == 240 { delay } else { 0 };
            assert_eq!(p.start - n.start, expected, "note at {}", n.start);
            assert_eq!(p.velocity, n.velocity);
        }
        // A compound meter stays straight.
        let compound: Vec<BarSlot> = bars
            .iter()
            .map(|b| BarSlot {
                ticks: 1440,
                start: b.start / 1920 * 1440,
                meter: Meter {
                    numerator: 6,
                    denominator: 8,
                },
                ..*b
            })
            .collect();
        let notes: Vec<Note> = eighths(1).into_iter().take(6).collect();
        assert_eq!(
            humanizer(&compound, 0.0, 1.0, 3).part(&notes, 0, true),
            notes
        );
    }

    #[test]
    fn the_groove_is_shared_by_the_parts_at_each_sixteenth() {
        let bars = bars(8);
        let notes = eighths(8);
        let h = humanizer(&bars, 1.0, 0.0, 11);
        let a = h.part(&notes, 0, true);
        let b = h.part(&notes, 1, true);
        // Per slot, the mean shift over the bars is the groove (plus a lag per part): the
        // two parts' slot means move together.
        let mean = |played: &[Note], slot: u64| -> f64 {
            let shifts: Vec<f64> = notes
                .iter()
                .zip(played)
                .filter(|(n, _)| (n.start % 1920) / 120 == slot)
                .map(|(n, p)| p.start as f64 - n.start as f64)
                .collect();
            shifts.iter().sum::<f64>() / shifts.len() as f64
        };
        let slots: Vec<u64> = (0..16).step_by(2).collect();
        let ma: Vec<f64> = slots.iter().map(|&s| mean(&a, s)).collect();
        let mb: Vec<f64> = slots.iter().map(|&s| mean(&b, s)).collect();
        let centre = |v: &[f64]| -> Vec<f64> {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| x - m).collect()
        };
        let (ca, cb) = (centre(&ma), centre(&mb));
        let dot: f64 = ca.iter().zip(&cb).map(|(x, y)| x * y).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(
            dot / (norm(&ca) * norm(&cb)) > 0.7,
            "slot means {ma:?} and {mb:?}"
        );
    }

    #[test]
    fn feel_amounts_are_checked() {
        assert!(Feel::default().validate().is_ok());
        let e = Feel {
            humanize: 1.5,
            swing: 0.0,
        }
        .validate();
        assert_eq!(
            e,
            Err(ArrangeError::FeelOutOfRange {
                name: "humanize",
                value: "1.5".to_owned()
            })
        );
        assert!(
            Feel {
                humanize: 0.0,
                swing: f64::NAN
            }
            .validate()
            .is_err()
        );
    }
}
