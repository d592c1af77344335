//! Velocities by metre and intensity, and the seeded randomness every part draws on.

use leitmotif_score::Note;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::grid;
use crate::settings::{ArrangeSettings, BarSlot};

/// Which part a random stream or a jitter value belongs to, so parts never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Bass = 2,
    Chords = 3,
    Drums = 4,
    Shaped = 5,
}

/// The velocity for a note of metrical weight `weight` ([`Meter::weight`]) at `intensity`,
/// plus `jitter` in `-1..=1`.
///
/// `40 + 70 × intensity`, plus an accent of 18 for the downbeat (weight 0), 10 for other
/// pulses (1), 4 for other beats (2), 0 for eighths (3) and −6 for anything finer, plus
/// `4 × jitter`; rounded and clamped to `1..=127`. Intensity is clamped to `0..=1` and
/// jitter to `-1..=1`; NaN reads as 0.5 and 0 respectively.
///
/// [`Meter::weight`]: leitmotif_score::time::Meter::weight
///
/// ```
/// use leitmotif_arrange::velocity;
///
/// assert_eq!(velocity(0.5, 0, 0.0), 93);
/// assert!(velocity(0.9, 3, 0.0) > velocity(0.2, 3, 0.0));
/// assert!(velocity(0.5, 0, 0.0) > velocity(0.5, 4, 0.0));
/// ```
pub fn velocity(intensity: f64, weight: u8, jitter: f64) -> u8 {
    to_velocity(raw_velocity(intensity, weight, jitter))
}

/// [`velocity`] before rounding and clamping.
fn raw_velocity(intensity: f64, weight: u8, jitter: f64) -> f64 {
    let intensity = if intensity.is_nan() {
        0.5
    } else {
        intensity.clamp(0.0, 1.0)
    };
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(-1.0, 1.0)
    };
    let accent = match weight {
        0 => 18.0,
        1 => 10.0,
        2 => 4.0,
        3 => 0.0,
        _ => -6.0,
    };
    40.0 + 70.0 * intensity + accent + 4.0 * jitter
}

/// Rounds and clamps a velocity to `1..=127`.
fn to_velocity(value: f64) -> u8 {
    if value.is_nan() {
        return 64;
    }
    // Rounded and clamped to 1..=127 first, so the cast is exact.
    value.round().clamp(1.0, 127.0) as u8
}

/// A part's velocity: [`velocity`] moved by `offset` for balance, clamped to `1..=127`.
pub(crate) fn part_velocity(intensity: f64, weight: u8, jitter: f64, offset: f64) -> u8 {
    to_velocity(raw_velocity(intensity, weight, jitter) + offset)
}

/// Reshapes the velocities of existing notes (e.g. the model's melody) by metre and
/// intensity.
///
/// Each note takes the bar it starts in (the one before it when it starts in a gap, the
/// first when it starts before all bars), and its velocity becomes 75 % of
/// [`velocity`] for that bar's intensity and the note's metrical weight, plus 25 % of its
/// own velocity, so the note's contour survives a little. The jitter is a hash of the
/// seed, the note's start and pitch: the result does not depend on the notes' order.
/// With no bars the notes are left as they are.
pub fn shape_velocities(notes: &mut [Note], bars: &[BarSlot], settings: &ArrangeSettings) {
    let Some(first) = bars.first() else {
        return;
    };
    for note in notes.iter_mut() {
        let i = bars.partition_point(|b| b.start <= note.start);
        let bar = i.checked_sub(1).and_then(|i| bars.get(i)).unwrap_or(first);
        let offset = note.start.saturating_sub(bar.start);
        let weight = grid::weight(bar.meter, settings.ppq, offset);
        let j = jitter(settings.seed, Part::Shaped, note.start, note.pitch);
        let target = raw_velocity(bar.level(), weight, j);
        note.velocity = to_velocity(0.75 * target + 0.25 * f64::from(note.velocity));
    }
}

/// The `SplitMix64` finaliser: a well-spread hash of one word.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Mixes two words into one hash.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    splitmix(a ^ splitmix(b))
}

/// The random stream of `part` in bar number `bar`.
pub(crate) fn rng(seed: u64, part: Part, bar: usize) -> StdRng {
    StdRng::seed_from_u64(mix(mix(seed, part as u64), bar as u64))
}

/// A jitter in `-1..=1` for the note of `part` at `tick` with `pitch`.
pub(crate) fn jitter(seed: u64, part: Part, tick: u64, pitch: u8) -> f64 {
    let h = mix(mix(mix(seed, part as u64), tick), u64::from(pitch));
    let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
    unit * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_score::theory::PitchClass;
    use leitmotif_score::time::Meter;

    #[test]
    fn velocity_follows_the_formula() {
        assert_eq!(velocity(0.0, 3, 0.0), 40);
        assert_eq!(velocity(1.0, 0, 1.0), 127);
        assert_eq!(velocity(0.5, 1, -1.0), 40 + 35 + 10 - 4);
        assert_eq!(velocity(0.0, 5, -1.0), 30);
        assert_eq!(velocity(f64::NAN, 2, f64::NAN), 79);
        assert_eq!(velocity(f64::INFINITY, 0, 0.0), 127);
        assert_eq!(part_velocity(0.0, 5, -1.0, -200.0), 1);
    }

    #[test]
    fn velocity_is_monotone_in_intensity_and_strength() {
        for weight in 0..6 {
            let mut last = 0;
            for step in 0..=20 {
                let v = velocity(f64::from(step) / 20.0, weight, 0.0);
                assert!(v >= last);
                last = v;
            }
        }
        for weight in 0..4 {
            assert!(velocity(0.5, weight, 0.0) > velocity(0.5, weight + 1, 0.0));
        }
        assert_eq!(
            velocity(0.5, 4, 0.0),
            velocity(0.5, 5, 0.0),
            "finer is finer"
        );
    }

    #[test]
    fn jitter_is_bounded_and_seeded() {
        let values: Vec<f64> = (0..1000).map(|t| jitter(7, Part::Bass, t, 40)).collect();
        assert!(values.iter().all(|j| (-1.0..=1.0).contains(j)));
        assert!(values.iter().any(|&j| j > 0.5) && values.iter().any(|&j| j < -0.5));
        assert_eq!(jitter(7, Part::Bass, 3, 40), jitter(7, Part::Bass, 3, 40));
        assert_ne!(jitter(7, Part::Bass, 3, 40), jitter(8, Part::Bass, 3, 40));
        assert_ne!(jitter(7, Part::Bass, 3, 40), jitter(7, Part::Drums, 3, 40));
    }

    #[test]
    fn shaping_follows_bar_intensity_and_keeps_contour() {
        let settings = ArrangeSettings::new(480, [true; 12], PitchClass::C);
        let bars: Vec<BarSlot> = [0.1, 0.9]
            .iter()
            .enumerate()
            .map(|(i, &intensity)| BarSlot {
                start: i as u64 * 1920,
                ticks: 1920,
                meter: Meter::COMMON,
                intensity,
            })
            .collect();
        let note = |start, velocity| Note {
            start,
            duration: 240,
            pitch: 60,
            velocity,
        };
        let mut notes = vec![note(0, 64), note(240, 64), note(1920, 64), note(2160, 64)];
        shape_velocities(&mut notes, &bars, &settings);
        assert!(notes[2].velocity > notes[0].velocity + 30, "{notes:?}");
        assert!(notes[0].velocity > notes[1].velocity, "downbeat louder");
        let mut soft = vec![note(0, 20)];
        let mut loud = vec![note(0, 120)];
        shape_velocities(&mut soft, &bars, &settings);
        shape_velocities(&mut loud, &bars, &settings);
        assert!(loud[0].velocity > soft[0].velocity + 20, "contour kept");
        let mut again = vec![note(1920, 64), note(0, 64)];
        shape_velocities(&mut again, &bars, &settings);
        assert_eq!(again[0].velocity, notes[2].velocity, "order-independent");
    }
}
