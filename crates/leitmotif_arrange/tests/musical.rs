//! Musical checks: the harmony hears the melody, cadences land, intensity shows, and the
//! arranger is deterministic.

use std::collections::BTreeSet;

use leitmotif_arrange::{
    ArrangeError, ArrangeSettings, Arrangement, BarSlot, arrange, drums, harmony, shape_velocities,
};
use leitmotif_score::Note;
use leitmotif_score::theory::{Chord, ChordQuality, Mode, PitchClass, Scale};
use leitmotif_score::time::Meter;

const PPQ: u16 = 480;

fn bars(meter: Meter, intensities: &[f64]) -> Vec<BarSlot> {
    let ticks = meter.ticks_per_bar(PPQ);
    intensities
        .iter()
        .enumerate()
        .map(|(i, &intensity)| BarSlot {
            start: i as u64 * ticks,
            ticks,
            meter,
            intensity,
        })
        .collect()
}

/// One bar per entry of `bars_of_pitches`, its pitches spread evenly over the bar.
fn melody(meter: Meter, bars_of_pitches: &[&[u8]]) -> Vec<Note> {
    let ticks = meter.ticks_per_bar(PPQ);
    let mut notes = Vec::new();
    for (b, pitches) in bars_of_pitches.iter().enumerate() {
        let len = ticks / pitches.len().max(1) as u64;
        for (i, &pitch) in pitches.iter().enumerate() {
            notes.push(Note {
                start: b as u64 * ticks + i as u64 * len,
                duration: len,
                pitch,
                velocity: 80,
            });
        }
    }
    notes
}

fn c_major() -> ArrangeSettings {
    ArrangeSettings::new(
        PPQ,
        Scale::new(PitchClass::C, Mode::Major).mask(),
        PitchClass::C,
    )
}

/// C minor as the composer passes it: natural minor plus the raised 6th and 7th.
fn c_minor() -> ArrangeSettings {
    let mut allowed = Scale::new(PitchClass::C, Mode::NaturalMinor).mask();
    allowed[9] = true;
    allowed[11] = true;
    ArrangeSettings::new(PPQ, allowed, PitchClass::C)
}

fn names(spans: &[leitmotif_arrange::HarmonySpan]) -> Vec<String> {
    spans.iter().map(|s| s.chord.to_string()).collect()
}

fn all_notes(a: &Arrangement) -> impl Iterator<Item = &Note> {
    a.bass.iter().chain(&a.chords).chain(&a.drums)
}

fn mean_velocity<'a>(notes: impl Iterator<Item = &'a Note>) -> f64 {
    let (sum, n) = notes.fold((0.0, 0.0), |(s, n), note| {
        (s + f64::from(note.velocity), n + 1.0)
    });
    sum / n
}

#[test]
fn triads_in_the_melody_are_heard() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let tune = melody(
        m,
        &[
            &[60, 64, 67],
            &[67, 71, 74],
            &[65, 69, 72],
            &[69, 72, 76],
            &[60, 64, 67],
        ],
    );
    let spans = harmony(&tune, &bars(m, &[0.5; 5]), &c_major())?;
    assert_eq!(names(&spans), ["C", "G", "F", "Am", "C"]);
    Ok(())
}

#[test]
fn harmony_follows_the_melody_in_every_meter() -> Result<(), ArrangeError> {
    for (numerator, denominator) in [(3, 4), (6, 8), (7, 8), (5, 4), (2, 2), (12, 8)] {
        let m = Meter {
            numerator,
            denominator,
        };
        let tune = melody(m, &[&[67, 71, 74], &[62, 67, 71], &[60, 64, 67]]);
        let spans = harmony(&tune, &bars(m, &[0.5; 3]), &c_major())?;
        assert_eq!(names(&spans)[..2], ["G", "G"], "in {m}");
    }
    Ok(())
}

#[test]
fn a_bar_without_melody_keeps_the_chord() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let tune = melody(m, &[&[60, 64, 67], &[65, 69, 72], &[], &[60, 67]]);
    let spans = harmony(&tune, &bars(m, &[0.5; 4]), &c_major())?;
    assert_eq!(names(&spans), ["C", "F", "F", "C"]);
    let silent = harmony(&[], &bars(m, &[0.5; 3]), &c_major())?;
    assert_eq!(
        names(&silent),
        ["C", "C", "C"],
        "no melody: the tonic throughout"
    );
    Ok(())
}

#[test]
fn long_bars_split_when_the_melody_changes() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let tune = melody(m, &[&[60, 64, 67], &[65, 69, 67, 71], &[60, 64, 67]]);
    let spans = harmony(&tune, &bars(m, &[0.5; 3]), &c_major())?;
    assert_eq!(names(&spans), ["C", "F", "G", "C"]);
    assert_eq!(
        (spans[1].start, spans[1].end, spans[2].end),
        (1920, 2880, 3840)
    );
    Ok(())
}

#[test]
fn endings_land_on_the_tonic() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    // The last bar's melody outlines the dominant; a non-looped phrase still ends at home.
    let tune = melody(m, &[&[60, 64, 67], &[65, 69, 72], &[67, 71, 74]]);
    for (tonic, mode) in [(PitchClass::C, Mode::Major), (PitchClass::A, Mode::Dorian)] {
        let settings = ArrangeSettings::new(PPQ, Scale::new(tonic, mode).mask(), tonic);
        let spans = harmony(&tune, &bars(m, &[0.5; 3]), &settings)?;
        let last = spans.last().map(|s| s.chord);
        assert_eq!(last.map(|c| c.root), Some(tonic), "{tonic} {mode}");
    }
    let spans = harmony(&tune, &bars(m, &[0.5; 3]), &c_major())?;
    assert_eq!(names(&spans), ["C", "F", "C"]);
    Ok(())
}

#[test]
fn loops_end_on_the_dominant() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let mut settings = c_major();
    settings.looped = true;
    for last in [&[][..], &[67, 71, 74], &[62, 67]] {
        let tune = melody(m, &[&[60, 64, 67], &[65, 69, 72], last]);
        let spans = harmony(&tune, &bars(m, &[0.5; 3]), &settings)?;
        assert_eq!(names(&spans)[2], "G", "last bar {last:?}");
    }
    // The last bar's melody on the tonic chord still leads away from it.
    let tune = melody(m, &[&[60, 64, 67], &[65, 69, 72], &[60, 64, 67]]);
    let spans = harmony(&tune, &bars(m, &[0.5; 3]), &settings)?;
    assert_ne!(names(&spans)[2], "C");
    Ok(())
}

#[test]
fn minor_loops_use_the_raised_seventh() -> Result<(), ArrangeError> {
    let m = Meter {
        numerator: 6,
        denominator: 8,
    };
    let mut settings = c_minor();
    settings.looped = true;
    let g_major = Chord::new(PitchClass::G, ChordQuality::Major);
    for last in [&[][..], &[67, 74], &[67, 71, 74]] {
        let tune = melody(m, &[&[60, 63, 67], &[65, 68, 72], last]);
        let spans = harmony(&tune, &bars(m, &[0.5; 3]), &settings)?;
        assert_eq!(names(&spans)[0], "Cm");
        let dominant = spans.last().map(|s| s.chord);
        assert_eq!(dominant, Some(g_major), "last bar {last:?}");
        assert!(g_major.contains(PitchClass::B), "the raised seventh");
    }
    // A melody leaning on the lowered seventh gets the minor dominant instead.
    let tune = melody(m, &[&[60, 63, 67], &[65, 68, 72], &[70, 67, 74, 70]]);
    let spans = harmony(&tune, &bars(m, &[0.5; 3]), &settings)?;
    assert_eq!(names(&spans)[2], "Gm");
    // And without looping the phrase ends on C minor.
    settings.looped = false;
    let spans = harmony(&tune, &bars(m, &[0.5; 3]), &settings)?;
    assert_eq!(names(&spans)[2], "Cm");
    Ok(())
}

#[test]
fn intensity_is_heard_in_density_and_loudness() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let tune = melody(
        m,
        &[&[60, 64, 67], &[65, 69, 72], &[67, 71, 74], &[60, 64, 67]],
    );
    for seed in 0..4 {
        let mut settings = c_major();
        settings.seed = seed;
        let soft = arrange(&tune, &bars(m, &[0.2; 4]), &settings)?;
        let loud = arrange(&tune, &bars(m, &[0.9; 4]), &settings)?;
        assert!(
            loud.drums.len() > 2 * soft.drums.len(),
            "{} vs {}",
            loud.drums.len(),
            soft.drums.len()
        );
        assert!(loud.bass.len() > soft.bass.len());
        assert!(loud.chords.len() > soft.chords.len());
        assert!(mean_velocity(all_notes(&loud)) > mean_velocity(all_notes(&soft)) + 25.0);
        for part in [
            (&soft.bass, &loud.bass),
            (&soft.chords, &loud.chords),
            (&soft.drums, &loud.drums),
        ] {
            assert!(mean_velocity(part.1.iter()) > mean_velocity(part.0.iter()) + 20.0);
        }
    }
    Ok(())
}

#[test]
fn a_ramp_gives_many_dynamic_levels() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let ramp: Vec<f64> = (0..16).map(|i| 0.1 + 0.85 * f64::from(i) / 15.0).collect();
    let scale: &[u8] = &[60, 62, 64, 65, 67, 69, 71, 72];
    let mut tune = melody(m, &[scale; 16]);
    let bars = bars(m, &ramp);
    let settings = c_major();
    let out = arrange(&tune, &bars, &settings)?;
    shape_velocities(&mut tune, &bars, &settings);
    let levels: BTreeSet<u8> = all_notes(&out).chain(&tune).map(|n| n.velocity).collect();
    assert!(
        levels.len() >= 32,
        "only {} levels: {levels:?}",
        levels.len()
    );
    for part in [&out.bass, &out.chords, &out.drums, &tune] {
        let first = mean_velocity(part.iter().filter(|n| n.start < 4 * 1920));
        let last = mean_velocity(part.iter().filter(|n| n.start >= 12 * 1920));
        assert!(last > first + 25.0, "{first} -> {last}");
    }
    Ok(())
}

#[test]
fn drums_follow_the_meter() -> Result<(), ArrangeError> {
    let hits = |m: Meter, pitch: u8| -> Result<Vec<u64>, ArrangeError> {
        let notes = drums(&bars(m, &[0.45]), &c_major())?;
        Ok(notes
            .iter()
            .filter(|n| n.pitch == pitch)
            .map(|n| n.start)
            .collect())
    };
    let kick = leitmotif_arrange::drums::KICK;
    let snare = leitmotif_arrange::drums::SNARE;
    let four = Meter::COMMON;
    assert_eq!(hits(four, kick)?, [0, 960]);
    assert_eq!(hits(four, snare)?, [480, 1440]);
    let six_eight = Meter {
        numerator: 6,
        denominator: 8,
    };
    assert_eq!(hits(six_eight, kick)?, [0]);
    assert_eq!(hits(six_eight, snare)?, [720]);
    let seven_eight = Meter {
        numerator: 7,
        denominator: 8,
    };
    assert_eq!(hits(seven_eight, kick)?, [0, 480]);
    assert_eq!(hits(seven_eight, snare)?, [960]);
    let three_four = Meter {
        numerator: 3,
        denominator: 4,
    };
    assert_eq!(hits(three_four, kick)?, [0]);
    assert_eq!(hits(three_four, snare)?, [480, 960]);
    Ok(())
}

#[test]
fn phrases_get_crashes_and_fills() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let out = drums(&bars(m, &[0.9; 8]), &c_major())?;
    let crashes: Vec<u64> = out
        .iter()
        .filter(|n| n.pitch == 49)
        .map(|n| n.start)
        .collect();
    assert_eq!(crashes, [0, 4 * 1920]);
    let toms_in_bar = |bar: u64| {
        out.iter()
            .filter(|n| n.start / 1920 == bar && [41, 45, 47, 48, 50].contains(&n.pitch))
            .count()
    };
    assert!(
        toms_in_bar(3) > 0 && toms_in_bar(7) > 0,
        "fills before bar 4 and at the end"
    );
    assert_eq!(toms_in_bar(1) + toms_in_bar(4), 0);
    let sparse = drums(&bars(m, &[0.1; 4]), &c_major())?;
    assert!(
        sparse.iter().all(|n| [36, 51].contains(&n.pitch)),
        "kick and ride only"
    );
    Ok(())
}

#[test]
fn the_same_seed_gives_the_same_music() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let tune = melody(
        m,
        &[&[60, 64, 67], &[65, 69, 72], &[67, 71, 74], &[60, 64, 67]],
    );
    let bars = bars(m, &[0.7, 0.8, 0.9, 1.0]);
    let mut settings = c_major();
    let first = arrange(&tune, &bars, &settings)?;
    assert_eq!(arrange(&tune, &bars, &settings)?, first);
    let differs = (1..5).any(|seed| {
        settings.seed = seed;
        arrange(&tune, &bars, &settings).is_ok_and(|other| other != first)
    });
    assert!(differs, "another seed should change some choice or jitter");
    Ok(())
}

#[test]
fn impossible_settings_are_errors() {
    let m = Meter::COMMON;
    let bars = bars(m, &[0.5]);
    let mut settings = c_major();
    settings.allowed = [false; 12];
    assert_eq!(
        arrange(&[], &bars, &settings),
        Err(ArrangeError::NothingAllowed)
    );
    let mut settings = c_major();
    settings.chord_range = 61..=61;
    assert!(matches!(
        arrange(&[], &bars, &settings),
        Err(ArrangeError::RangeWithoutAllowedPitch { part: "chord", .. })
    ));
    let mut settings = c_major();
    settings.ppq = 0;
    assert_eq!(drums(&bars, &settings), Err(ArrangeError::ZeroPpq));
    assert_eq!(arrange(&[], &[], &c_major()).map(|a| a.bass.len()), Ok(0));
}

/// FNV-1a over every note of every part, in order.
fn fingerprint(a: &Arrangement) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut eat = |x: u64| {
        for byte in x.to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for span in &a.harmony {
        eat(span.start);
        eat(span.end);
        for byte in span.chord.to_string().bytes() {
            eat(u64::from(byte));
        }
    }
    for note in all_notes(a) {
        eat(note.start);
        eat(note.duration);
        eat(u64::from(note.pitch));
        eat(u64::from(note.velocity));
    }
    hash
}

#[test]
fn golden_arrangement() -> Result<(), ArrangeError> {
    let m = Meter::COMMON;
    let tune = melody(
        m,
        &[&[60, 64, 67], &[65, 69, 72], &[67, 71, 74, 77], &[72, 67]],
    );
    let ramp = [0.2, 0.5, 0.8, 0.95];
    let mut settings = c_minor();
    settings.tonic = PitchClass::C;
    settings.looped = true;
    settings.seed = 42;
    let hash = fingerprint(&arrange(&tune, &bars(m, &ramp), &settings)?);
    assert_eq!(
        hash, GOLDEN,
        "the arrangement of the golden phrase changed (hash {hash:#018x}). If you changed the \
         arranger's rules, patterns, velocities or random streams on purpose, listen to the \
         result and update GOLDEN to the new hash; if not, this is a determinism regression."
    );
    Ok(())
}

/// The fingerprint of [`golden_arrangement`]'s phrase; update it only for intended changes.
const GOLDEN: u64 = 0x7fdc_c341_bce1_0237;
