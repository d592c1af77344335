//! Property tests: every part keeps its invariants for random melodies, meters, keys,
//! intensities and settings.

use std::ops::RangeInclusive;

use leitmotif_arrange::{ArrangeSettings, Arrangement, BarSlot, arrange, shape_velocities};
use leitmotif_score::Note;
use leitmotif_score::theory::{Mode, PitchClass, Scale};
use leitmotif_score::time::Meter;
use proptest::prelude::*;

const METERS: [(u8, u8); 9] = [
    (2, 4),
    (3, 4),
    (4, 4),
    (5, 4),
    (6, 8),
    (9, 8),
    (12, 8),
    (7, 8),
    (2, 2),
];

/// The allowed set the composer passes for `tonic` in mode number `mode`: major, minor
/// (natural plus raised 6th and 7th), dorian or minor pentatonic.
fn allowed(tonic: PitchClass, mode: usize) -> [bool; 12] {
    match mode {
        0 => Scale::new(tonic, Mode::Major).mask(),
        1 => {
            let mut set = Scale::new(tonic, Mode::NaturalMinor).mask();
            set[usize::from(tonic.transpose(9).index())] = true;
            set[usize::from(tonic.transpose(11).index())] = true;
            set
        }
        2 => Scale::new(tonic, Mode::Dorian).mask(),
        _ => Scale::new(tonic, Mode::MinorPentatonic).mask(),
    }
}

/// A random case: the inputs of one arrangement.
#[derive(Debug, Clone)]
struct Case {
    bars: Vec<BarSlot>,
    melody: Vec<Note>,
    settings: ArrangeSettings,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (0..METERS.len(), prop::sample::select(vec![24u16, 96, 480])),
        (0u8..12, 0usize..4),
        prop::collection::vec(0.0..=1.0f64, 1..12),
        any::<bool>(),
        prop::collection::vec((0.0..1.0f64, 1u64..2000, 36u8..100), 0..40),
        (
            any::<bool>(),
            any::<u64>(),
            0usize..3,
            prop::sample::select(vec![0u64, 7, 3840]),
        ),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (meter, ppq),
                (tonic, mode),
                levels,
                ramp,
                raw,
                (looped, seed, ranges, first),
                (mixed, cut),
            )| {
                let n = levels.len();
                let mut bars: Vec<BarSlot> = Vec::with_capacity(n);
                for i in 0..n {
                    // One meter throughout, or a new one every bar.
                    let (numerator, denominator) = METERS[(meter + if mixed { i } else { 0 }) % 9];
                    let meter = Meter {
                        numerator,
                        denominator,
                    };
                    let mut ticks = meter.ticks_per_bar(ppq);
                    if cut && i + 1 == n {
                        ticks = ticks / 2 + 1;
                    }
                    bars.push(BarSlot {
                        start: bars.last().map_or(first, BarSlot::end),
                        ticks,
                        meter,
                        intensity: if ramp {
                            levels[0] + (levels[n - 1] - levels[0]) * i as f64 / n as f64
                        } else {
                            levels[i]
                        },
                    });
                }
                let span = bars.last().map_or(0, BarSlot::end) - first;
                let melody = raw
                    .into_iter()
                    .map(|(at, duration, pitch)| Note {
                        start: first + (at * span as f64) as u64,
                        duration: duration * u64::from(ppq) / 480 + 1,
                        pitch,
                        velocity: 80,
                    })
                    .collect();
                let tonic = PitchClass::from_midi(tonic);
                let mut settings = ArrangeSettings::new(ppq, allowed(tonic, mode), tonic);
                settings.looped = looped;
                settings.seed = seed;
                match ranges {
                    1 => {
                        settings.bass_range = 36..=47;
                        settings.chord_range = 60..=72;
                    }
                    2 => {
                        settings.bass_range = 40..=44;
                        settings.chord_range = 64..=67;
                    }
                    _ => {}
                }
                Case {
                    bars,
                    melody,
                    settings,
                }
            },
        )
}

fn inside(notes: &[Note], bars: &[BarSlot]) -> bool {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return notes.is_empty();
    };
    notes
        .iter()
        .all(|n| n.start >= first.start && n.end() <= last.end() && n.duration > 0)
}

fn allowed_in(notes: &[Note], range: &RangeInclusive<u8>, settings: &ArrangeSettings) -> bool {
    notes
        .iter()
        .all(|n| range.contains(&n.pitch) && settings.allowed[usize::from(n.pitch % 12)])
}

fn no_same_pitch_overlap(notes: &[Note]) -> bool {
    let mut sorted = notes.to_vec();
    sorted.sort_by_key(|n| (n.pitch, n.start));
    sorted
        .windows(2)
        .all(|w| w[0].pitch != w[1].pitch || w[0].end() <= w[1].start)
}

fn audible(notes: &[Note]) -> bool {
    notes.iter().all(|n| (1..=127).contains(&n.velocity))
}

fn check(case: &Case, out: &Arrangement) -> Result<(), TestCaseError> {
    let Case {
        bars,
        settings,
        melody,
    } = case;

    // Harmony tiles the bars, in order.
    let mut spans = out.harmony.iter().peekable();
    for bar in bars {
        let mut at = bar.start;
        while at < bar.end() {
            let span = spans.next();
            prop_assert!(span.is_some_and(|s| s.start == at && s.end > at && s.end <= bar.end()));
            at = span.map_or(bar.end(), |s| s.end);
        }
    }
    prop_assert!(spans.peek().is_none(), "spans past the bars");
    let (first, last) = (
        out.harmony[0].chord,
        out.harmony[out.harmony.len() - 1].chord,
    );
    if settings.looped && bars.len() > 1 {
        prop_assert_ne!(last, first, "a loop's last chord leads back to the first");
    }
    if !settings.looped {
        prop_assert_eq!(last.root, settings.tonic, "an ending is on the tonic");
    }

    // Bass: monophonic, in range, allowed.
    prop_assert!(out.bass.windows(2).all(|w| w[0].end() <= w[1].start));
    prop_assert!(allowed_in(&out.bass, &settings.bass_range, settings));
    prop_assert!(inside(&out.bass, bars) && audible(&out.bass));
    prop_assert!(!out.bass.is_empty());

    // Chords: in range, allowed, no pitch twice at once.
    prop_assert!(allowed_in(&out.chords, &settings.chord_range, settings));
    prop_assert!(no_same_pitch_overlap(&out.chords));
    prop_assert!(inside(&out.chords, bars) && audible(&out.chords));

    // Drums: General MIDI percussion, short, no pitch twice at once.
    prop_assert!(out.drums.iter().all(|n| (35..=81).contains(&n.pitch)));
    prop_assert!(
        out.drums
            .iter()
            .all(|n| n.duration <= u64::from(settings.ppq))
    );
    prop_assert!(no_same_pitch_overlap(&out.drums));
    prop_assert!(inside(&out.drums, bars) && audible(&out.drums));

    // The melody's dynamics.
    let mut shaped = melody.clone();
    shape_velocities(&mut shaped, bars, settings);
    prop_assert!(audible(&shaped));
    Ok(())
}

fn wild_intensity() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![-3.0, 7.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_part_keeps_its_invariants(case in case()) {
        let out = arrange(&case.melody, &case.bars, &case.settings);
        prop_assert!(out.is_ok(), "{out:?}");
        let Ok(out) = out else { return Ok(()) };
        check(&case, &out)?;
        let again = arrange(&case.melody, &case.bars, &case.settings);
        prop_assert_eq!(again.ok(), Some(out), "same inputs, same output");
    }

    #[test]
    fn intensity_outside_the_unit_range_is_clamped(case in case(), wild in wild_intensity()) {
        let mut case = case;
        for bar in &mut case.bars {
            bar.intensity = wild;
        }
        let out = arrange(&case.melody, &case.bars, &case.settings);
        prop_assert!(out.is_ok());
        let Ok(out) = out else { return Ok(()) };
        check(&case, &out)?;
    }
}
