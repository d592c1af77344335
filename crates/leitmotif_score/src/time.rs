//! Musical time: bars and beats in any meter, and ticks to seconds through the tempo map.

use serde::{Deserialize, Serialize};

use crate::score::{Score, TimeSignatureChange};

/// A meter: beats per bar over the beat's note value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Meter {
    /// Beats per bar (the upper number).
    pub numerator: u8,
    /// The beat's note value (the lower number), a power of two.
    pub denominator: u8,
}

impl Default for Meter {
    fn default() -> Self {
        Self::COMMON
    }
}

impl Meter {
    /// 4/4, MIDI's default when a file states no meter.
    pub const COMMON: Meter = Meter {
        numerator: 4,
        denominator: 4,
    };

    /// Ticks in one beat (one denominator unit) at `ppq` ticks per quarter note.
    pub fn ticks_per_beat(&self, ppq: u16) -> u64 {
        u64::from(ppq) * 4 / u64::from(self.denominator.max(1))
    }

    /// Ticks in one whole bar at `ppq`.
    pub fn ticks_per_bar(&self, ppq: u16) -> u64 {
        self.ticks_per_beat(ppq) * u64::from(self.numerator)
    }

    /// Whether this is a compound meter (6/8, 9/8, 12/8...): beats grouped in threes.
    pub fn is_compound(&self) -> bool {
        self.denominator >= 8 && self.numerator > 3 && self.numerator.is_multiple_of(3)
    }

    /// The felt pulses per bar: numerator / 3 in compound meters, the numerator otherwise.
    pub fn pulses_per_bar(&self) -> u8 {
        if self.is_compound() {
            self.numerator / 3
        } else {
            self.numerator
        }
    }

    /// Ticks in one felt pulse (a dotted quarter in 6/8, a quarter in 4/4).
    pub fn ticks_per_pulse(&self, ppq: u16) -> u64 {
        self.ticks_per_bar(ppq) / u64::from(self.pulses_per_bar().max(1))
    }

    /// Metrical weight of a position `offset` ticks into a bar: 0 for the downbeat, 1 for
    /// other pulses, 2 for other beats, then 3 for eighths, 4 for sixteenths, 5 for anything
    /// finer. Smaller is stronger.
    pub fn weight(&self, offset: u64, ppq: u16) -> u8 {
        let bar = self.ticks_per_bar(ppq).max(1);
        let offset = offset % bar;
        if offset == 0 {
            return 0;
        }
        let pulse = self.ticks_per_pulse(ppq).max(1);
        if offset.is_multiple_of(pulse) {
            return 1;
        }
        let beat = self.ticks_per_beat(ppq).max(1);
        if offset.is_multiple_of(beat) {
            return 2;
        }
        let eighth = u64::from(ppq) / 2;
        let sixteenth = u64::from(ppq) / 4;
        if eighth > 0 && offset.is_multiple_of(eighth) {
            3
        } else if sixteenth > 0 && offset.is_multiple_of(sixteenth) {
            4
        } else {
            5
        }
    }
}

impl std::fmt::Display for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

impl From<TimeSignatureChange> for Meter {
    fn from(ts: TimeSignatureChange) -> Self {
        Meter {
            numerator: ts.numerator,
            denominator: ts.denominator,
        }
    }
}

/// One bar of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    /// The bar's number, counting from 0.
    pub index: usize,
    /// Its first tick.
    pub start: u64,
    /// Its length in ticks; shorter than a full bar when a new meter cuts it off.
    pub len: u64,
    /// The meter in force.
    pub meter: Meter,
}

impl Bar {
    /// The tick after the bar.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// A position in musical time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarBeat {
    /// Bar number from 0.
    pub bar: usize,
    /// Beat within the bar from 0 (in denominator units).
    pub beat: u32,
    /// Ticks past that beat.
    pub tick: u64,
}

/// The bar grid of a score, built from its time signatures; bars restart at each change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarMap {
    ppq: u16,
    bars: Vec<Bar>,
}

impl BarMap {
    /// The bars covering `0..end` (at least one bar) for the meters in `score`.
    ///
    /// The score's size is bounded by [`crate::MAX_QUARTERS`], which bounds the bar count.
    pub fn new(score: &Score) -> Self {
        Self::from_meters(score.ppq, &score.time_signatures, score.end_tick)
    }

    /// The bars covering `0..end` for `changes` (sorted by tick) at `ppq`.
    pub fn from_meters(ppq: u16, changes: &[TimeSignatureChange], end: u64) -> Self {
        let mut bars = Vec::new();
        let mut meter = Meter::COMMON;
        let mut tick = 0;
        let mut next_change = 0;
        loop {
            while let Some(change) = changes.get(next_change).filter(|c| c.tick <= tick) {
                meter = Meter::from(*change);
                next_change += 1;
            }
            if tick >= end && !bars.is_empty() {
                break;
            }
            let full = meter.ticks_per_bar(ppq).max(1);
            let cut = changes
                .get(next_change)
                .map_or(u64::MAX, |c| c.tick.saturating_sub(tick));
            let len = full.min(cut).max(1);
            bars.push(Bar {
                index: bars.len(),
                start: tick,
                len,
                meter,
            });
            tick += len;
        }
        Self { ppq, bars }
    }

    /// The bars in order.
    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }

    /// The number of bars.
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// Whether there are no bars (never true for a map built by [`BarMap::new`]).
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// The bar containing `tick` (the last bar for ticks past the end).
    pub fn bar_at(&self, tick: u64) -> &Bar {
        let i = self.bars.partition_point(|b| b.start <= tick);
        &self.bars[i.saturating_sub(1).min(self.bars.len() - 1)]
    }

    /// Bar, beat and remaining ticks of `tick`; ticks past the end continue the last meter.
    pub fn position(&self, tick: u64) -> BarBeat {
        let bar = self.bar_at(tick);
        let beat_len = bar.meter.ticks_per_beat(self.ppq).max(1);
        let mut index = bar.index;
        let mut offset = tick - bar.start;
        if offset >= bar.len {
            let full = bar.meter.ticks_per_bar(self.ppq).max(1);
            let extra = (offset - bar.len) / full + 1;
            index += usize::try_from(extra).unwrap_or(usize::MAX - index);
            offset = (offset - bar.len) % full;
        }
        BarBeat {
            bar: index,
            beat: u32::try_from(offset / beat_len).unwrap_or(u32::MAX),
            tick: offset % beat_len,
        }
    }
}

/// Converts ticks to seconds through a score's tempo changes (120 bpm before the first).
#[derive(Debug, Clone, PartialEq)]
pub struct TempoMap {
    ppq: f64,
    /// (tick, seconds at that tick, seconds per tick from there on)
    segments: Vec<(u64, f64, f64)>,
}

impl TempoMap {
    /// The tempo map of `score`.
    pub fn new(score: &Score) -> Self {
        let ppq = f64::from(score.ppq.max(1));
        let mut segments = vec![(0, 0.0, 0.5 / ppq)];
        for tempo in &score.tempos {
            let (tick, seconds, per_tick) = *segments.last().unwrap_or(&(0, 0.0, 0.5 / ppq));
            let at = seconds + (tempo.tick - tick) as f64 * per_tick;
            let per_tick = f64::from(tempo.micros_per_quarter) / 1e6 / ppq;
            if tempo.tick == tick {
                segments.pop();
            }
            segments.push((tempo.tick, at, per_tick));
        }
        Self { ppq, segments }
    }

    /// Seconds from the start of the piece to `tick`.
    pub fn seconds(&self, tick: u64) -> f64 {
        let i = self
            .segments
            .partition_point(|s| s.0 <= tick)
            .saturating_sub(1);
        let (start, at, per_tick) = self.segments[i];
        at + (tick - start) as f64 * per_tick
    }

    /// The tempo in force at `tick`, in quarter notes per minute.
    pub fn bpm_at(&self, tick: u64) -> f64 {
        let i = self
            .segments
            .partition_point(|s| s.0 <= tick)
            .saturating_sub(1);
        60.0 / (self.segments[i].2 * self.ppq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::TempoChange;

    fn ts(tick: u64, numerator: u8, denominator: u8) -> TimeSignatureChange {
        TimeSignatureChange {
            tick,
            numerator,
            denominator,
        }
    }

    #[test]
    fn bars_follow_meter_changes() {
        // Two bars of 4/4, then 6/8 from tick 3840, then a 3/4 change in the middle of a bar.
        let changes = [ts(0, 4, 4), ts(3840, 6, 8), ts(3840 + 1440 + 720, 3, 4)];
        let map = BarMap::from_meters(480, &changes, 8000);
        let starts: Vec<u64> = map.bars().iter().map(|b| b.start).collect();
        assert_eq!(&starts[..5], &[0, 1920, 3840, 5280, 6000]);
        assert_eq!(
            map.bars()[3].len,
            720,
            "the 6/8 bar is cut short by the 3/4 change"
        );
        assert_eq!(
            map.bars()[4].meter,
            Meter {
                numerator: 3,
                denominator: 4
            }
        );
        assert_eq!(
            map.position(3840 + 1440 + 240),
            BarBeat {
                bar: 3,
                beat: 1,
                tick: 0
            }
        );
        assert_eq!(
            map.position(1920 + 500),
            BarBeat {
                bar: 1,
                beat: 1,
                tick: 20
            }
        );
        let last = map.bars().last().copied().unwrap_or(map.bars()[0]);
        assert!(last.end() >= 8000);
    }

    #[test]
    fn positions_past_the_end_continue_the_meter() {
        let map = BarMap::from_meters(480, &[ts(0, 3, 4)], 1440);
        assert_eq!(map.len(), 1);
        assert_eq!(
            map.position(1440 * 3 + 480 + 7),
            BarBeat {
                bar: 3,
                beat: 1,
                tick: 7
            }
        );
    }

    #[test]
    fn compound_meters_have_dotted_pulses() {
        let six_eight = Meter {
            numerator: 6,
            denominator: 8,
        };
        assert!(six_eight.is_compound());
        assert_eq!(six_eight.ticks_per_bar(480), 1440);
        assert_eq!(six_eight.ticks_per_pulse(480), 720);
        assert_eq!(six_eight.weight(720, 480), 1);
        assert_eq!(six_eight.weight(240, 480), 2);
        assert_eq!(six_eight.weight(120, 480), 4);
        let three_four = Meter {
            numerator: 3,
            denominator: 4,
        };
        assert!(!three_four.is_compound());
        assert_eq!(three_four.weight(480, 480), 1);
        assert_eq!(three_four.weight(240, 480), 3);
    }

    #[test]
    fn tempo_map_integrates_changes() {
        let mut score = Score::new(480);
        score.tempos = vec![
            TempoChange {
                tick: 960,
                micros_per_quarter: 1_000_000,
            },
            TempoChange {
                tick: 1920,
                micros_per_quarter: 250_000,
            },
        ];
        let map = TempoMap::new(&score);
        assert!(
            (map.seconds(960) - 1.0).abs() < 1e-12,
            "two quarters at the default 120 bpm"
        );
        assert!((map.seconds(1920) - 3.0).abs() < 1e-12);
        assert!((map.seconds(2400) - 3.25).abs() < 1e-12);
        assert!((map.bpm_at(2000) - 240.0).abs() < 1e-9);
    }
}
