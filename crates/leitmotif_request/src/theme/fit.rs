//! Fitting a theme's line to a target: meter warp, augmentation or diminution, scale-degree
//! mapping and register.

use leitmotif_score::theory::Scale;
use leitmotif_score::time::Meter;
use leitmotif_score::{DEFAULT_PPQ, Note};
use leitmotif_tokens::unit_ticks;

use super::{Theme, ThemeTarget};
use crate::request::allowed_pitch_classes;

/// Time factors tried, augmentation first among equals.
const FACTORS: [f64; 5] = [1.0, 2.0, 0.5, 4.0, 0.25];

/// How far (as a tempo ratio) the felt speed may drift before a factor other than 1 wins:
/// a theme at 96 bpm still sounds like itself at 150, not at 160.
const KEEP_FACTOR_RATIO: f64 = 1.6;

/// The shortest note diminution may leave, in ticks (a sixteenth-note triplet).
const SHORTEST: u64 = DEFAULT_PPQ as u64 / 6;

/// A fitted line and its length in ticks (whole target bars).
pub(super) struct Fitted {
    pub notes: Vec<Note>,
    pub length: u64,
    /// The time factor applied after the meter warp.
    pub factor: f64,
}

/// How a meter is felt, for regrouping: ticks per pulse, beats grouped in
/// twos or threes (1: neither), pulses divided in twos or threes.
#[derive(Debug, Clone, Copy)]
struct Feel {
    pulse_ticks: u64,
    group: u64,
    division: u64,
}

impl Feel {
    fn of(meter: Meter) -> Self {
        let pulses = u64::from(meter.pulses_per_bar().max(1));
        let group = if pulses.is_multiple_of(3) {
            3
        } else if pulses.is_multiple_of(2) {
            2
        } else {
            1
        };
        Self {
            pulse_ticks: meter.ticks_per_pulse(DEFAULT_PPQ).max(1),
            group,
            division: if meter.is_compound() { 3 } else { 2 },
        }
    }
}

/// Maps a position `u` in `0..from` parts to `0..to` parts, two and three parts regrouped
/// long-short (a pair's first part takes two of a triple; a triple's first two parts share
/// the first of a pair).
fn regroup(u: f64, from: u64, to: u64) -> f64 {
    match (from, to) {
        (2, 3) if u < 1.0 => 2.0 * u,
        (2, 3) => 2.0 + (u - 1.0),
        (3, 2) if u < 2.0 => u / 2.0,
        (3, 2) => 1.0 + (u - 2.0),
        _ => u,
    }
}

/// A tick of the source meter warped into the target meter (before any time factor):
/// beats regrouped between twos and threes, pulses' divisions between straight and compound.
pub(super) fn warp(tick: u64, from: Meter, to: Meter) -> f64 {
    let (s, t) = (Feel::of(from), Feel::of(to));
    let pulse = tick / s.pulse_ticks;
    let frac = (tick % s.pulse_ticks) as f64 / s.pulse_ticks as f64;
    let frac = regroup(frac * s.division as f64, s.division, t.division) / t.division as f64;
    let (gs, gt) = if s.group == 1 || t.group == 1 {
        (1, 1)
    } else {
        (s.group, t.group)
    };
    let group = pulse / gs;
    let within = (pulse % gs) as f64 + frac;
    let pulses = (group * gt) as f64 + regroup(within, gs, gt);
    pulses * t.pulse_ticks as f64
}

/// Where a pitch sits in `scale`: octave, degree and a chromatic raise (0 for scale notes).
pub(super) fn degree_of(pitch: u8, scale: Scale) -> (i32, usize, i32) {
    let rel = i32::from(pitch) - i32::from(scale.tonic.index());
    let (octave, within) = (rel.div_euclid(12), rel.rem_euclid(12));
    let steps = scale.mode.intervals();
    let degree = steps
        .iter()
        .rposition(|&s| i32::from(s) <= within)
        .unwrap_or(0);
    (octave, degree, within - i32::from(steps[degree]))
}

/// The pitch at `octave`, `degree` (wrapping into octaves), raised by `raise`, in `scale`.
pub(super) fn pitch_at(octave: i32, degree: i32, raise: i32, scale: Scale) -> i32 {
    let steps = scale.mode.intervals();
    let n = steps.len() as i32;
    let octave = octave + degree.div_euclid(n);
    let step = i32::from(steps[degree.rem_euclid(n) as usize]);
    i32::from(scale.tonic.index()) + 12 * octave + step + raise
}

/// `pitch` of `from` moved into `to` by scale degree (seven-note scales both), keeping a
/// chromatic raise where `to` allows it; between scales of other sizes, the same interval
/// above the tonic, snapped into `to`.
fn map_pitch(pitch: u8, from: Scale, to: Scale) -> i32 {
    let allowed = allowed_pitch_classes(to);
    let ok = |p: i32| allowed[p.rem_euclid(12) as usize];
    if from.mode.is_heptatonic() && to.mode.is_heptatonic() {
        let (octave, degree, raise) = degree_of(pitch, from);
        let plain = pitch_at(octave, degree as i32, 0, to);
        if raise != 0 && ok(plain + raise) {
            plain + raise
        } else {
            plain
        }
    } else {
        let rel = i32::from(pitch) - i32::from(from.tonic.index());
        let p = i32::from(to.tonic.index()) + rel;
        // Nearest allowed pitch, the lower on a tie.
        (0..12)
            .flat_map(|d| [p - d, p + d])
            .find(|&q| ok(q))
            .unwrap_or(p)
    }
}

/// The theme's line fitted to `target` (see the module docs of `theme`).
pub(super) fn fit(theme: &Theme, target: &ThemeTarget) -> Fitted {
    let (from, to) = (theme.meter, target.meter);
    let warped: Vec<(f64, f64, u8, u8)> = theme
        .notes
        .iter()
        .map(|n| {
            (
                warp(n.start, from, to),
                warp(n.end(), from, to),
                n.pitch,
                n.velocity,
            )
        })
        .collect();
    let warped_len = warp(theme.length, from, to);
    let factor = choose_factor(theme, target, &warped, warped_len);
    let unit = unit_ticks();
    let snap = |x: f64| ((x * factor / unit as f64).round() as u64) * unit;
    let bar = to.ticks_per_bar(DEFAULT_PPQ).max(1);
    let own = snap(warped_len).div_ceil(bar).max(1) * bar;
    let length = target.bars.map_or(own, |b| u64::from(b) * bar);
    let mut line: Vec<Note> = Vec::new();
    // The theme, then again (from its start) until the phrase is full.
    let mut offset = 0;
    while offset < length {
        for &(start, end, pitch, velocity) in &warped {
            let (start, end) = (snap(start), snap(end));
            let end = end.max(start + unit) + offset;
            let start = start + offset;
            if start >= length {
                break;
            }
            let end = end.min(length);
            let pitch = map_pitch(pitch, theme.key, target.key);
            line.push(Note {
                start,
                duration: end - start,
                pitch: pitch.clamp(0, 127) as u8,
                velocity,
            });
        }
        offset += own;
    }
    // Monophonic: each note cut where the next begins; notes on one onset keep the highest.
    line.sort_by_key(|n| (n.start, std::cmp::Reverse(n.pitch)));
    line.dedup_by_key(|n| n.start);
    for i in 1..line.len() {
        let next = line[i].start;
        let prev = &mut line[i - 1];
        prev.duration = prev.duration.min(next - prev.start);
    }
    line.retain(|n| n.duration > 0);
    place_in_register(&mut line, target);
    Fitted {
        notes: line,
        length,
        factor,
    }
}

/// The time factor that keeps the theme's felt speed nearest its own: 1 unless the target
/// tempo is more than [`KEEP_FACTOR_RATIO`] away; never one that leaves a note shorter than
/// [`SHORTEST`], nor one that makes the theme longer than the target's bars when another
/// fits.
fn choose_factor(
    theme: &Theme,
    target: &ThemeTarget,
    warped: &[(f64, f64, u8, u8)],
    warped_len: f64,
) -> f64 {
    let own_seconds = theme.length as f64 / theme.bpm;
    let shortest = warped
        .iter()
        .map(|(s, e, _, _)| e - s)
        .fold(f64::INFINITY, f64::min);
    let bar = target.meter.ticks_per_bar(DEFAULT_PPQ) as f64;
    let mut best = (f64::INFINITY, 1.0);
    for factor in FACTORS {
        if factor < 1.0 && shortest * factor < SHORTEST as f64 {
            continue;
        }
        let seconds = warped_len * factor / target.bpm;
        let mut cost = (seconds / own_seconds).ln().abs();
        if factor != 1.0 {
            // Nearest in log time would switch at a ratio of √2; this moves it out to
            // KEEP_FACTOR_RATIO.
            cost += 2.0 * KEEP_FACTOR_RATIO.ln() - std::f64::consts::LN_2;
        }
        if let Some(bars) = target.bars
            && (warped_len * factor / bar).ceil() > f64::from(bars)
        {
            cost += 100.0;
        }
        if cost < best.0 {
            best = (cost, factor);
        }
    }
    best.1
}

/// Moves the line by whole octaves so its mean pitch is nearest the target register's, then
/// into the melody range (notes still outside it fold in by octaves).
fn place_in_register(line: &mut [Note], target: &ThemeTarget) {
    if line.is_empty() {
        return;
    }
    let mean = line.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / line.len() as f64;
    let mut shift = (((target.centre() - mean) / 12.0).round() as i32) * 12;
    let (lo, hi) = (
        i32::from(*target.range.start()),
        i32::from(*target.range.end()),
    );
    let min = line.iter().map(|n| i32::from(n.pitch)).min().unwrap_or(lo);
    let max = line.iter().map(|n| i32::from(n.pitch)).max().unwrap_or(hi);
    while max + shift > hi && min + shift - 12 >= lo {
        shift -= 12;
    }
    while min + shift < lo && max + shift + 12 <= hi {
        shift += 12;
    }
    for n in line.iter_mut() {
        let mut p = i32::from(n.pitch) + shift;
        while p > hi && p - 12 >= 0 {
            p -= 12;
        }
        while p < lo && p + 12 <= 127 {
            p += 12;
        }
        n.pitch = p.clamp(0, 127) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_score::theory::Mode;

    const COMMON: Meter = Meter::COMMON;
    const WALTZ: Meter = Meter {
        numerator: 3,
        denominator: 4,
    };
    const JIG: Meter = Meter {
        numerator: 6,
        denominator: 8,
    };

    #[test]
    fn duple_beats_regroup_long_short_in_triple_time() {
        // 4/4 beats 0 1 2 3 become 3/4 beats 0 2 3 5: each pair a long-short triple.
        let beats: Vec<f64> = (0..5)
            .map(|b| warp(b * 480, COMMON, WALTZ) / 480.0)
            .collect();
        assert_eq!(beats, [0.0, 2.0, 3.0, 5.0, 6.0]);
        // And back.
        let back: Vec<f64> = [0, 2, 3, 5, 6]
            .iter()
            .map(|b| warp(b * 480, WALTZ, COMMON) / 480.0)
            .collect();
        assert_eq!(back, [0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn straight_eighths_become_compound_long_short() {
        // A 4/4 bar's quarters and eighths in 6/8: a quarter pulse becomes a dotted quarter,
        // its two eighths a quarter and an eighth.
        let at = |t: u64| warp(t, COMMON, JIG);
        assert_eq!(at(0), 0.0);
        assert_eq!(at(240), 480.0);
        assert_eq!(at(480), 720.0);
        assert_eq!(at(1920), 2880.0);
    }

    #[test]
    fn degrees_map_between_modes() {
        use leitmotif_score::theory::PitchClass;
        let c_major = Scale::new(PitchClass::C, Mode::Major);
        let c_minor = Scale::new(PitchClass::C, Mode::NaturalMinor);
        let a_minor = Scale::new(PitchClass::A, Mode::NaturalMinor);
        // E4, the third of C major, becomes C5, the third of A minor (the same number of
        // octaves above the tonic's pitch class), and Eb4 in C minor.
        assert_eq!(map_pitch(64, c_major, a_minor), 72);
        assert_eq!(map_pitch(64, c_major, c_minor), 63);
        // B4, the seventh, becomes Bb4 (natural minor's seventh).
        assert_eq!(map_pitch(71, c_major, c_minor), 70);
        // F#4, a raised fourth, keeps its raise only where the locked key allows it: not in
        // A minor (D#) nor in C major itself; G#4, a raised fifth, becomes A minor's fifth
        // raised, F5.
        assert_eq!(map_pitch(66, c_major, a_minor), 74);
        assert_eq!(map_pitch(66, c_major, c_major), 65);
        assert_eq!(map_pitch(68, c_major, a_minor), 77);
    }
}
