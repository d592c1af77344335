//! How a bar is felt: pulses, accent groups and metrical weights for every meter.

use leitmotif_score::time::Meter;

use crate::settings::BarSlot;

/// The family of a meter, which decides how its pulses are grouped and drummed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeterFamily {
    /// Simple meters with an even (or single) beat count: 2/4, 4/4, 2/2, 6/4.
    Duple,
    /// Simple meters of three beats: 3/4, 3/8, 3/2.
    Triple,
    /// Compound meters, beats grouped in threes: 6/8, 9/8, 12/8.
    Compound,
    /// Odd beat counts of five or more that are not compound: 5/4, 5/8, 7/8, 11/8.
    Odd,
}

impl MeterFamily {
    /// The family of `meter`.
    pub fn of(meter: Meter) -> Self {
        if meter.is_compound() {
            Self::Compound
        } else if meter.numerator == 3 {
            Self::Triple
        } else if meter.numerator >= 5 && meter.numerator % 2 == 1 {
            Self::Odd
        } else {
            Self::Duple
        }
    }

    /// The accent groups of `meter`, in beats (denominator units), summing to its numerator.
    ///
    /// Compound meters group in threes, odd meters in twos and threes (5 as 3+2, 7 as 2+2+3,
    /// longer ones as twos ending in a three), and the others beat by beat.
    pub fn groups(meter: Meter) -> Vec<u8> {
        let n = meter.numerator.max(1);
        match Self::of(meter) {
            Self::Compound => vec![3; usize::from(n / 3)],
            Self::Odd if n == 5 => vec![3, 2],
            Self::Odd => {
                let mut groups = vec![2; usize::from((n - 3) / 2)];
                groups.push(3);
                groups
            }
            Self::Duple | Self::Triple => vec![1; usize::from(n)],
        }
    }
}

/// A bar laid out for the pattern writers: its pulses and sub-grids, in ticks from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BarGrid {
    /// The bar's meter.
    pub meter: Meter,
    /// Its family.
    pub family: MeterFamily,
    /// Its length in ticks.
    pub ticks: u64,
    /// The felt pulses: `(offset, length)`, in order, covering the bar.
    pub pulses: Vec<(u64, u64)>,
    /// How many pulses one cycle of the meter has (a long bar repeats the cycle).
    pub pulses_per_cycle: usize,
    /// Offsets of the accent-group starts (a subset of the pulse starts or equal to them).
    pub group_starts: Vec<u64>,
    /// An eighth note in ticks (at least 1).
    pub eighth: u64,
    /// A sixteenth note in ticks (at least 1).
    pub sixteenth: u64,
    ppq: u16,
}

impl BarGrid {
    /// The grid of `bar` at `ppq`; a bar longer than its meter repeats the meter's pattern,
    /// one shorter cuts it off.
    pub fn new(bar: &BarSlot, ppq: u16) -> Self {
        let meter = bar.meter;
        let family = MeterFamily::of(meter);
        let beat = meter.ticks_per_beat(ppq).max(1);
        let full = meter.ticks_per_bar(ppq).max(1);
        let groups = MeterFamily::groups(meter);
        // Felt pulses: beats in simple meters, groups in compound meters and in odd meters
        // counted in eighths or shorter; odd quarter meters (5/4) pulse on every beat.
        let pulse_groups: Vec<u8> = match family {
            MeterFamily::Compound => groups.clone(),
            MeterFamily::Odd if meter.denominator >= 8 => groups.clone(),
            _ => vec![1; usize::from(meter.numerator.max(1))],
        };
        let mut pulses = Vec::new();
        let mut group_starts = Vec::new();
        let mut base = 0;
        while base < bar.ticks {
            let mut offset = base;
            for &g in &pulse_groups {
                let len = beat * u64::from(g);
                if offset < bar.ticks {
                    pulses.push((offset, len.min(bar.ticks - offset)));
                }
                offset += len;
            }
            let mut offset = base;
            for &g in &groups {
                if offset < bar.ticks {
                    group_starts.push(offset);
                }
                offset += beat * u64::from(g);
            }
            base += full;
        }
        Self {
            meter,
            family,
            ticks: bar.ticks,
            pulses,
            pulses_per_cycle: pulse_groups.len(),
            group_starts,
            eighth: (u64::from(ppq) / 2).max(1),
            sixteenth: (u64::from(ppq) / 4).max(1),
            ppq,
        }
    }

    /// The metrical weight at `offset` ticks into the bar: [`Meter::weight`], except that in
    /// odd meters only group starts are pulses (1) and other pulses count as beats (2).
    pub fn weight(&self, offset: u64) -> u8 {
        weight(self.meter, self.ppq, offset)
    }

    /// Offsets `0, step, 2 step, ...` inside the bar.
    pub fn steps(&self, step: u64) -> impl Iterator<Item = u64> + '_ {
        (0..)
            .map(move |k| k * step.max(1))
            .take_while(|&o| o < self.ticks)
    }

    /// Whether the bar lasts at least four quarter notes.
    pub fn is_long(&self) -> bool {
        self.ticks >= 4 * u64::from(self.ppq)
    }

    /// The pulse start nearest the middle of the bar (never 0 when there are two pulses).
    pub fn middle(&self) -> Option<u64> {
        let half = self.ticks / 2;
        self.pulses
            .iter()
            .map(|&(o, _)| o)
            .filter(|&o| o > 0)
            .min_by_key(|&o| (o.abs_diff(half), o))
    }
}

/// The metrical weight of `offset` ticks into a bar of `meter` (see [`BarGrid::weight`]).
pub(crate) fn weight(meter: Meter, ppq: u16, offset: u64) -> u8 {
    let w = meter.weight(offset, ppq);
    if w != 1 || MeterFamily::of(meter) != MeterFamily::Odd {
        return w;
    }
    let beat = meter.ticks_per_beat(ppq).max(1);
    let full = meter.ticks_per_bar(ppq).max(1);
    let offset = offset % full;
    let mut start = 0;
    for g in MeterFamily::groups(meter) {
        if start == offset {
            return 1;
        }
        start += beat * u64::from(g);
    }
    2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(numerator: u8, denominator: u8) -> Meter {
        Meter {
            numerator,
            denominator,
        }
    }

    fn grid(numerator: u8, denominator: u8) -> BarGrid {
        let m = meter(numerator, denominator);
        BarGrid::new(
            &BarSlot {
                start: 0,
                ticks: m.ticks_per_bar(480),
                meter: m,
                intensity: 0.5,
            },
            480,
        )
    }

    #[test]
    fn families_and_groups() {
        assert_eq!(MeterFamily::of(meter(4, 4)), MeterFamily::Duple);
        assert_eq!(MeterFamily::of(meter(2, 2)), MeterFamily::Duple);
        assert_eq!(MeterFamily::of(meter(3, 4)), MeterFamily::Triple);
        assert_eq!(MeterFamily::of(meter(6, 8)), MeterFamily::Compound);
        assert_eq!(MeterFamily::of(meter(12, 8)), MeterFamily::Compound);
        assert_eq!(MeterFamily::of(meter(7, 8)), MeterFamily::Odd);
        assert_eq!(MeterFamily::of(meter(5, 4)), MeterFamily::Odd);
        assert_eq!(MeterFamily::groups(meter(7, 8)), vec![2, 2, 3]);
        assert_eq!(MeterFamily::groups(meter(5, 8)), vec![3, 2]);
        assert_eq!(MeterFamily::groups(meter(11, 8)), vec![2, 2, 2, 2, 3]);
        assert_eq!(MeterFamily::groups(meter(9, 8)), vec![3, 3, 3]);
    }

    #[test]
    fn pulses_follow_the_felt_beat() {
        assert_eq!(grid(6, 8).pulses, vec![(0, 720), (720, 720)]);
        assert_eq!(grid(7, 8).pulses, vec![(0, 480), (480, 480), (960, 720)]);
        assert_eq!(grid(5, 4).pulses.len(), 5);
        assert_eq!(grid(5, 4).group_starts, vec![0, 1440]);
        assert_eq!(grid(2, 2).pulses, vec![(0, 960), (960, 960)]);
        assert_eq!(grid(4, 4).middle(), Some(960));
        assert_eq!(grid(12, 8).middle(), Some(1440));
    }

    #[test]
    fn odd_meters_weigh_group_starts() {
        let g = grid(7, 8);
        assert_eq!(g.weight(0), 0);
        assert_eq!(g.weight(480), 1);
        assert_eq!(g.weight(240), 2);
        assert_eq!(g.weight(1200), 2);
        assert_eq!(grid(4, 4).weight(480), 1);
        assert_eq!(grid(4, 4).weight(240), 3);
    }

    #[test]
    fn cut_and_long_bars() {
        let m = meter(4, 4);
        let cut = BarGrid::new(
            &BarSlot {
                start: 0,
                ticks: 1000,
                meter: m,
                intensity: 0.5,
            },
            480,
        );
        assert_eq!(cut.pulses, vec![(0, 480), (480, 480), (960, 40)]);
        let long = BarGrid::new(
            &BarSlot {
                start: 0,
                ticks: 2400,
                meter: m,
                intensity: 0.5,
            },
            480,
        );
        assert_eq!(long.pulses.len(), 5);
        assert_eq!(long.pulses[4], (1920, 480));
    }
}
