//! The session's musical clock: ticks at 480 PPQ, a tempo and meter per segment (a phrase,
//! or one beat of a tempo ramp), seconds to ticks and back, bar and beat positions, and the
//! boundaries transitions land on.

use leitmotif_request::Transition;
use leitmotif_score::DEFAULT_PPQ;
use leitmotif_score::time::Meter;

use crate::error::DirectorError;

/// The clock's resolution in ticks per quarter note (the composer's).
pub const PPQ: u16 = DEFAULT_PPQ;

/// Ticks added before rounding seconds down to a tick, so that a time that is a beat in
/// exact arithmetic is not read as the tick before it.
const TICK_EPSILON: f64 = 1e-6;

/// A stretch of the timeline with one tempo and one meter. Bars restart at its first tick,
/// unless it is a tempo step ([`MusicClock::set_tempo`]) that keeps the bar grid running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Its first tick.
    pub tick: u64,
    /// The tick its bar grid counts from: [`tick`](Self::tick), or for a tempo step the
    /// grid of the segment it steps from (bar lines stand at `grid` plus whole bars).
    pub grid: u64,
    /// Seconds from the session's start to [`tick`](Self::tick).
    pub seconds: f64,
    /// Tempo in quarter notes per minute.
    pub bpm: f64,
    /// The meter; a beat is one denominator unit (an eighth in 6/8).
    pub meter: Meter,
    /// The 0-based session bar number of the bar that starts at [`grid`](Self::grid).
    pub first_bar: u64,
    /// Whether the segment starts off the previous segment's bar grid (mid-bar), so the bar
    /// grid restarts here; always true for the first segment.
    pub restart: bool,
}

impl Segment {
    /// Ticks in one beat.
    pub fn beat_ticks(&self) -> u64 {
        self.meter.ticks_per_beat(PPQ).max(1)
    }

    /// Ticks in one bar.
    pub fn bar_ticks(&self) -> u64 {
        self.meter.ticks_per_bar(PPQ).max(1)
    }

    /// Seconds per tick.
    pub fn seconds_per_tick(&self) -> f64 {
        60.0 / (self.bpm * f64::from(PPQ))
    }
}

/// A position in musical time, as a game shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Bar number, from 1.
    pub bar: u64,
    /// Beat in the bar, from 1 (denominator units: 6/8 has six).
    pub beat: u32,
    /// Ticks past that beat.
    pub tick: u64,
}

/// The session timeline: segments sorted by tick, never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct MusicClock {
    segments: Vec<Segment>,
}

/// Checks a tempo for the clock.
pub(crate) fn check_bpm(bpm: f64) -> Result<(), DirectorError> {
    if bpm.is_finite() && (20.0..=400.0).contains(&bpm) {
        Ok(())
    } else {
        Err(DirectorError::Invalid {
            what: "tempo",
            reason: format!("{bpm} bpm is outside 20..=400"),
        })
    }
}

/// Checks a meter for the clock (any positive numerator over a power of two up to 64).
pub(crate) fn check_meter(meter: Meter) -> Result<(), DirectorError> {
    if meter.numerator > 0 && meter.denominator.is_power_of_two() && meter.denominator <= 64 {
        Ok(())
    } else {
        Err(DirectorError::Invalid {
            what: "meter",
            reason: format!("{meter} is not a meter"),
        })
    }
}

impl MusicClock {
    /// A clock at `bpm` in `meter` from tick 0.
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] for a tempo outside 20..=400 bpm or an impossible meter.
    pub fn new(bpm: f64, meter: Meter) -> Result<Self, DirectorError> {
        check_bpm(bpm)?;
        check_meter(meter)?;
        Ok(Self {
            segments: vec![Segment {
                tick: 0,
                grid: 0,
                seconds: 0.0,
                bpm,
                meter,
                first_bar: 0,
                restart: true,
            }],
        })
    }

    /// The segments, sorted by tick.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Starts a segment at `tick`, dropping every segment at or after it.
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] for a tempo outside 20..=400 bpm or an impossible meter.
    pub fn set_segment(&mut self, tick: u64, bpm: f64, meter: Meter) -> Result<(), DirectorError> {
        check_bpm(bpm)?;
        check_meter(meter)?;
        self.truncate_from(tick);
        let segment = match self.segments.last().filter(|s| s.tick < tick) {
            Some(prev) => {
                let offset = tick - prev.grid;
                Segment {
                    tick,
                    grid: tick,
                    seconds: prev.seconds + (tick - prev.tick) as f64 * prev.seconds_per_tick(),
                    bpm,
                    meter,
                    first_bar: prev.first_bar + offset.div_ceil(prev.bar_ticks()),
                    restart: !offset.is_multiple_of(prev.bar_ticks()),
                }
            }
            None => Segment {
                tick: 0,
                grid: 0,
                seconds: 0.0,
                bpm,
                meter,
                first_bar: 0,
                restart: true,
            },
        };
        if segment.tick == 0 {
            self.segments.clear();
        }
        self.segments.push(segment);
        Ok(())
    }

    /// Changes the tempo from `tick` on, keeping the meter and the bar grid (a step of a
    /// tempo ramp), and drops every segment at or after it. Put on a beat line, a step is
    /// no line of its own: beats, bars and boundaries run through it as through one segment.
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] for a tempo outside 20..=400 bpm.
    pub fn set_tempo(&mut self, tick: u64, bpm: f64) -> Result<(), DirectorError> {
        check_bpm(bpm)?;
        self.truncate_from(tick);
        let last = self.segments.len() - 1;
        let prev = self.segments[last];
        if tick <= prev.tick {
            // Only the first segment can start at or after `tick` once truncated: `tick` is 0.
            self.segments[last].bpm = bpm;
            return Ok(());
        }
        self.segments.push(Segment {
            tick,
            seconds: prev.seconds + (tick - prev.tick) as f64 * prev.seconds_per_tick(),
            bpm,
            restart: false,
            ..prev
        });
        Ok(())
    }

    /// Drops the segments that start at or after `tick` (the first segment always stays).
    pub fn truncate_from(&mut self, tick: u64) {
        let keep = self.segments.partition_point(|s| s.tick < tick).max(1);
        self.segments.truncate(keep);
    }

    /// The segment in force at `tick`.
    pub fn segment_at(&self, tick: u64) -> &Segment {
        &self.segments[self.index_at(tick)]
    }

    fn index_at(&self, tick: u64) -> usize {
        self.segments
            .partition_point(|s| s.tick <= tick)
            .saturating_sub(1)
    }

    /// Seconds from the session's start to `tick`.
    pub fn seconds_at(&self, tick: u64) -> f64 {
        let s = self.segment_at(tick);
        s.seconds + (tick - s.tick) as f64 * s.seconds_per_tick()
    }

    /// The tick sounding `seconds` after the session's start (rounded down; 0 before it).
    pub fn tick_at(&self, seconds: f64) -> u64 {
        if !seconds.is_finite() || seconds <= 0.0 {
            return 0;
        }
        let i = self
            .segments
            .partition_point(|s| s.seconds <= seconds)
            .saturating_sub(1);
        let s = &self.segments[i];
        let ticks = (seconds - s.seconds) / s.seconds_per_tick() + TICK_EPSILON;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "non-negative and floored; a session of u64::MAX ticks is not reachable"
        )]
        let ticks = ticks.floor() as u64;
        let tick = s.tick + ticks;
        // Float error must not carry a tick past the next segment's start.
        match self.segments.get(i + 1) {
            Some(next) if tick > next.tick => next.tick,
            _ => tick,
        }
    }

    /// Bar (from 1), beat (from 1) and ticks past the beat at `tick`.
    pub fn position(&self, tick: u64) -> Position {
        let s = self.segment_at(tick);
        let offset = tick - s.grid;
        let in_bar = offset % s.bar_ticks();
        Position {
            bar: s.first_bar + offset / s.bar_ticks() + 1,
            beat: u32::try_from(in_bar / s.beat_ticks() + 1).unwrap_or(u32::MAX),
            tick: in_bar % s.beat_ticks(),
        }
    }

    /// Whether a beat line (and so possibly a bar line) stands at `tick`.
    pub fn is_beat(&self, tick: u64) -> bool {
        let s = self.segment_at(tick);
        (tick - s.grid).is_multiple_of(s.beat_ticks())
    }

    /// Whether a bar line stands at `tick`.
    pub fn is_bar(&self, tick: u64) -> bool {
        let s = self.segment_at(tick);
        (tick - s.grid).is_multiple_of(s.bar_ticks())
    }

    /// The tick where 0-based session bar `index` starts.
    pub fn bar_start(&self, index: u64) -> u64 {
        let i = self
            .segments
            .partition_point(|s| s.first_bar <= index)
            .saturating_sub(1);
        let s = &self.segments[i];
        s.grid + index.saturating_sub(s.first_bar) * s.bar_ticks()
    }

    /// The latest tick at or before `tick` where the bar grid restarts mid-bar (0 if none):
    /// music from there on has only whole bars, apart from the last.
    pub fn grid_origin(&self, tick: u64) -> u64 {
        self.segments[..=self.index_at(tick)]
            .iter()
            .rev()
            .find(|s| s.restart)
            .map_or(0, |s| s.tick)
    }

    /// The tick a change asked for at `tick` lands on under `rule`.
    ///
    /// [`Transition::Immediate`] is `tick` itself; [`Transition::NextBeat`] and
    /// [`Transition::NextBar`] the first beat or bar line at or after `tick` (so a change
    /// asked for exactly on one lands at once); [`Transition::Bars`]`(n)` the first bar line
    /// at or after `tick` whose 0-based session bar number is a multiple of `n`. Past the
    /// last segment the last tempo and meter continue.
    pub fn next_boundary(&self, tick: u64, rule: Transition) -> u64 {
        let group = match rule {
            Transition::Immediate => return tick,
            Transition::NextBeat => return self.next_line(tick, Segment::beat_ticks),
            Transition::NextBar | Transition::Bars(0 | 1) => 1,
            Transition::Bars(n) => u64::from(n),
        };
        let mut from = tick;
        let mut i = self.index_at(tick);
        loop {
            let s = &self.segments[i];
            let bar = s.bar_ticks();
            let mut k = (from.max(s.tick) - s.grid).div_ceil(bar);
            k += (group - (s.first_bar + k) % group) % group;
            let candidate = s.grid + k * bar;
            match self.segments.get(i + 1) {
                Some(next) if candidate >= next.tick => {
                    from = next.tick;
                    i += 1;
                }
                _ => return candidate,
            }
        }
    }

    /// The first line of `unit` (beat or bar) at or after `tick`; segment starts are lines,
    /// tempo steps are not.
    fn next_line(&self, tick: u64, unit: fn(&Segment) -> u64) -> u64 {
        let mut i = self.index_at(tick);
        let mut from = tick;
        loop {
            let s = &self.segments[i];
            let len = unit(s);
            let candidate = s.grid + (from.max(s.tick) - s.grid).div_ceil(len) * len;
            match self.segments.get(i + 1) {
                Some(next) if candidate >= next.tick && next.grid == next.tick => {
                    return next.tick;
                }
                Some(next) if candidate >= next.tick => {
                    from = next.tick;
                    i += 1;
                }
                _ => return candidate,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SIX_EIGHT: Meter = Meter {
        numerator: 6,
        denominator: 8,
    };

    fn clock(bpm: f64, meter: Meter) -> MusicClock {
        MusicClock::new(bpm, meter).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn boundaries_in_four_four_and_six_eight() {
        // At 120 bpm a quarter is 480 ticks and half a second.
        let c = clock(120.0, Meter::COMMON);
        let now = c.tick_at(4.3); // bar 3 (0-based bar 2), 2 beats and 288 ticks in
        assert_eq!(now, 4128);
        assert_eq!(
            c.position(now),
            Position {
                bar: 3,
                beat: 1,
                tick: 288
            }
        );
        assert_eq!(c.next_boundary(now, Transition::Immediate), 4128);
        assert_eq!(c.next_boundary(now, Transition::NextBeat), 4320);
        assert_eq!(c.next_boundary(now, Transition::NextBar), 5760);
        assert_eq!(c.next_boundary(now, Transition::Bars(2)), 7680);
        assert_eq!(c.next_boundary(now, Transition::Bars(4)), 7680);
        assert_eq!(c.next_boundary(now, Transition::Bars(3)), 5760);
        // Exactly on a line lands at once.
        assert_eq!(c.next_boundary(4320, Transition::NextBeat), 4320);
        assert_eq!(c.next_boundary(3840, Transition::NextBar), 3840);

        // 6/8: a beat is an eighth (240 ticks), a bar 1440.
        let c = clock(120.0, SIX_EIGHT);
        let now = c.tick_at(4.1);
        assert_eq!(now, 3936);
        assert_eq!(
            c.position(now),
            Position {
                bar: 3,
                beat: 5,
                tick: 96
            }
        );
        assert_eq!(c.next_boundary(now, Transition::NextBeat), 4080);
        assert_eq!(c.next_boundary(now, Transition::NextBar), 4320);
        assert_eq!(c.next_boundary(now, Transition::Bars(2)), 5760);
    }

    #[test]
    fn segments_change_tempo_meter_and_restart_bars() {
        let mut c = clock(120.0, Meter::COMMON);
        // A 6/8 segment at 90 bpm from the middle of bar 2.
        c.set_segment(2880, 90.0, SIX_EIGHT)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = *c.segment_at(3000);
        assert!(s.restart);
        assert_eq!(s.first_bar, 2);
        assert!((c.seconds_at(2880) - 3.0).abs() < 1e-9);
        // 90 bpm: a quarter is 2/3 s, so an eighth (240 ticks) is 1/3 s.
        assert_eq!(c.tick_at(3.0 + 1.0 / 3.0), 3120);
        assert_eq!(
            c.position(2880 + 1440 + 240),
            Position {
                bar: 4,
                beat: 2,
                tick: 0
            }
        );
        // A boundary asked for before the segment counts the old grid, then the new one.
        assert_eq!(c.next_boundary(2000, Transition::NextBar), 2880);
        assert_eq!(c.next_boundary(2000, Transition::Bars(2)), 2880);
        assert_eq!(c.next_boundary(2000, Transition::Bars(3)), 2880 + 1440);
        assert_eq!(c.grid_origin(5000), 2880);
        assert_eq!(c.bar_start(3), 2880 + 1440);
        c.truncate_from(2880);
        assert_eq!(c.segments().len(), 1);
        assert_eq!(c.grid_origin(5000), 0);
    }

    #[test]
    fn tempo_steps_keep_the_bar_grid() {
        let mut c = clock(120.0, Meter::COMMON);
        // Steps on beats 2 and 3 of bar 2: 150 then 180 bpm.
        c.set_tempo(1920 + 480, 150.0)
            .unwrap_or_else(|e| panic!("{e}"));
        c.set_tempo(1920 + 960, 180.0)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.segments().len(), 3);
        assert!(!c.segment_at(3000).restart);
        // Bars and beats run on through the steps.
        assert_eq!(
            c.position(3840),
            Position {
                bar: 3,
                beat: 1,
                tick: 0
            }
        );
        assert_eq!(c.next_boundary(2500, Transition::NextBar), 3840);
        assert_eq!(c.next_boundary(2500, Transition::NextBeat), 2880);
        assert_eq!(c.next_boundary(2500, Transition::Bars(3)), 3 * 1920);
        assert_eq!(c.bar_start(2), 3840);
        assert_eq!(c.grid_origin(5000), 0);
        // Time runs at each step's tempo: 2.5 s to the first step, then 0.4 s a beat.
        assert!((c.seconds_at(2880) - 2.9).abs() < 1e-9);
        assert!((c.seconds_at(3360) - (2.9 + 1.0 / 3.0)).abs() < 1e-9);
        assert_eq!(c.tick_at(2.9), 2880);
        // A phrase after the steps counts its bars from the same grid.
        c.set_segment(3840, 100.0, Meter::COMMON)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = *c.segment_at(3840);
        assert_eq!((s.first_bar, s.restart, s.grid), (2, false, 3840));
        assert!(c.set_tempo(4000, 0.0).is_err());
    }

    #[test]
    fn bad_tempo_and_meter_are_refused() {
        assert!(MusicClock::new(0.0, Meter::COMMON).is_err());
        assert!(MusicClock::new(f64::NAN, Meter::COMMON).is_err());
        let bad = Meter {
            numerator: 4,
            denominator: 3,
        };
        assert!(MusicClock::new(120.0, bad).is_err());
    }

    proptest! {
        #[test]
        fn next_beat_is_the_first_beat_line_at_or_after(
            bpm in 40.0f64..240.0,
            split in 0u64..20_000,
            n in 1u8..13,
            eighths in any::<bool>(),
            tick in 0u64..40_000,
        ) {
            let meter = Meter { numerator: n, denominator: if eighths { 8 } else { 4 } };
            let mut c = clock(bpm, Meter::COMMON);
            c.set_segment(split, bpm * 0.75, meter).unwrap_or_else(|e| panic!("{e}"));
            let beat = c.next_boundary(tick, Transition::NextBeat);
            prop_assert!(beat >= tick);
            prop_assert!(c.is_beat(beat));
            prop_assert!((tick..beat).all(|t| !c.is_beat(t)));
            let bar = c.next_boundary(tick, Transition::NextBar);
            prop_assert!(bar >= beat && c.is_bar(bar));
            prop_assert_eq!(c.position(bar).beat, 1);
            let seconds = c.seconds_at(tick);
            prop_assert_eq!(c.tick_at(seconds), tick);
        }
    }
}
