//! Leitmotifs without a model: a theme fitted to a mood's key, mode, meter, tempo and
//! register, stated under the arranger's layers, the development requests, the recall
//! measure and the typed errors.

use leitmotif_request::request::allowed_pitch_classes;
use leitmotif_request::theme::{
    Development, Theme, ThemeBook, ThemeError, ThemeTarget, development, melody_line, recall,
    statement,
};
use leitmotif_request::{MoodTable, Request, Task};
use leitmotif_score::analysis::pitch_class_histogram;
use leitmotif_score::theory::{Mode, PitchClass, Scale, estimate_key};
use leitmotif_score::time::{BarMap, Meter};
use leitmotif_score::{Note, Role, Score, TempoChange, TimeSignatureChange, Track};
use leitmotif_tokens::Layer;

const WALTZ: Meter = Meter {
    numerator: 3,
    denominator: 4,
};

/// A four-bar tune in C major at 100 bpm in 4/4, as `(pitch, quarters)`; 0 is a rest.
const TUNE: [(u8, u64); 14] = [
    (60, 1),
    (62, 1),
    (64, 1),
    (67, 1),
    (69, 1),
    (67, 1),
    (64, 2),
    (65, 1),
    (64, 1),
    (62, 1),
    (71, 1),
    (72, 2),
    (0, 1),
    (67, 1),
];

fn tune_score() -> Score {
    let mut score = Score {
        tempos: vec![TempoChange::from_bpm(0, 100.0).unwrap_or(TempoChange {
            tick: 0,
            micros_per_quarter: 600_000,
        })],
        time_signatures: vec![TimeSignatureChange {
            tick: 0,
            numerator: 4,
            denominator: 4,
        }],
        ..Score::default()
    };
    let mut melody = Track::new("Melody", Role::Melody, 73, 0);
    let mut at = 0;
    for (pitch, quarters) in TUNE {
        if pitch > 0 {
            melody.notes.push(Note {
                start: at,
                duration: quarters * 480,
                pitch,
                velocity: 90,
            });
        }
        at += quarters * 480;
    }
    score.tracks.push(melody);
    score.end_tick = at;
    score.normalize();
    score
}

fn theme() -> Theme {
    Theme::from_score(&tune_score()).unwrap_or_else(|e| panic!("the tune is a theme: {e}"))
}

fn moods() -> MoodTable {
    MoodTable::default_table().unwrap_or_else(|e| panic!("default moods: {e}"))
}

#[test]
fn a_theme_is_read_in_its_own_key_meter_and_tempo() {
    let theme = theme();
    assert_eq!(theme.key(), Scale::new(PitchClass::C, Mode::Major));
    assert_eq!(theme.meter(), Meter::COMMON);
    assert!((theme.bpm() - 100.0).abs() < 0.01);
    assert_eq!(theme.bars(), 4);
    assert_eq!(theme.notes().len(), 13);
    assert_eq!(theme.head(1).map(|h| h.notes().len()).ok(), Some(4));
}

#[test]
fn a_major_theme_turns_minor_in_a_tense_mood_and_keeps_its_contour() {
    let theme = theme();
    let tense = &moods().moods["tense"];
    assert!(tense.mode.is_minor());
    let key = tense
        .key
        .key_after(Some(theme.key()), tense.mode)
        .unwrap_or(Scale::new(PitchClass::C, tense.mode));
    let target = ThemeTarget::for_mood(tense, key, Meter::COMMON);
    let stated = statement(&theme, &target, &[Layer::Melody, Layer::Bass], 0.75, 3)
        .unwrap_or_else(|e| panic!("statement: {e}"));
    assert!(stated.violations().is_empty(), "{:?}", stated.violations());
    let line = melody_line(&stated.score);
    let allowed = allowed_pitch_classes(key);
    assert!(line.iter().all(|n| allowed[usize::from(n.pitch % 12)]));
    // Every E of the tune is now Eb, and the estimated key of the melody is minor.
    assert!(line.iter().all(|n| n.pitch % 12 != 4));
    assert!(line.iter().any(|n| n.pitch % 12 == 3));
    let estimate = estimate_key(&pitch_class_histogram(&line));
    assert!(
        estimate.is_some_and(|e| e.key.minor),
        "estimated {estimate:?}"
    );
    // Same contour: the intervals in scale steps are the tune's.
    let steps = |notes: &[Note], scale: Scale| -> Vec<i32> {
        let degree = |p: u8| {
            let pcs = scale.pitch_classes();
            let pc = PitchClass::from_midi(p);
            let d = pcs.iter().position(|c| *c == pc).unwrap_or(0) as i32;
            (i32::from(p) - i32::from(scale.tonic.index())).div_euclid(12) * 7 + d
        };
        notes
            .windows(2)
            .map(|w| degree(w[1].pitch) - degree(w[0].pitch))
            .collect()
    };
    assert_eq!(steps(&line, key), steps(theme.notes(), theme.key()));
    let r = recall(&theme, &stated.score, None);
    assert!(r.score > 0.99, "{r:?}");
    // Bass under it, from the arranger.
    assert!(
        stated
            .layers
            .iter()
            .any(|l| l.layer == Layer::Bass && l.notes > 0)
    );
}

#[test]
fn a_four_four_theme_in_three_four_keeps_its_bar_lines() {
    let theme = theme();
    let target = ThemeTarget {
        meter: WALTZ,
        ..ThemeTarget::new(Scale::new(PitchClass::D, Mode::Major), 100.0)
    };
    let fitted = theme
        .fit(&target)
        .unwrap_or_else(|e| panic!("fit to 3/4: {e}"));
    assert_eq!(
        fitted
            .time_signatures
            .iter()
            .map(|t| (t.numerator, t.denominator))
            .collect::<Vec<_>>(),
        [(3, 4)]
    );
    let line = &fitted.tracks[0].notes;
    assert_eq!(line.len(), theme.notes().len());
    let bars = BarMap::new(&fitted);
    assert_eq!(fitted.end_tick % 1440, 0, "whole 3/4 bars");
    // Each pair of 4/4 beats is a 3/4 bar: the theme's downbeats and half-bars land on
    // 3/4 downbeats, and every onset stays on an eighth-note grid.
    for (source, stated) in theme.notes().iter().zip(line) {
        if source.start % 960 == 0 {
            assert_eq!(
                bars.position(stated.start).beat,
                0,
                "note at tick {} of the theme",
                source.start
            );
            assert_eq!(bars.position(stated.start).tick, 0);
        }
        assert_eq!(stated.start % 240, 0);
    }
    // Augmentation is not wanted at the same tempo, and recall in 3/4 is whole.
    assert_eq!(bars.len(), 8);
    assert!(recall(&theme, &fitted, None).score > 0.99);
}

#[test]
fn tempo_is_fitted_by_augmentation_and_diminution() {
    let theme = theme();
    let key = Scale::new(PitchClass::C, Mode::Major);
    let length = |bpm: f64| {
        theme
            .fit(&ThemeTarget::new(key, bpm))
            .map(|s| s.end_tick)
            .unwrap_or(0)
    };
    assert_eq!(length(100.0), 4 * 1920, "its own tempo: as written");
    assert_eq!(length(140.0), 4 * 1920, "a little faster: as written");
    assert_eq!(length(220.0), 8 * 1920, "far faster: augmented");
    assert_eq!(length(45.0), 2 * 1920, "far slower: diminished");
    // A phrase of fixed bars states the theme again to fill them, or cuts it.
    let eight = ThemeTarget {
        bars: Some(8),
        ..ThemeTarget::new(key, 100.0)
    };
    let fitted = theme.fit(&eight).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fitted.end_tick, 8 * 1920);
    assert_eq!(fitted.tracks[0].notes.len(), 2 * theme.notes().len());
}

#[test]
fn the_register_follows_the_mood_inside_the_range() {
    let theme = theme();
    let key = Scale::new(PitchClass::C, Mode::Major);
    let mean = |register: f64| {
        let target = ThemeTarget {
            register,
            ..ThemeTarget::new(key, 100.0)
        };
        let line = theme.fit(&target).map(|s| s.tracks[0].notes.clone());
        let line = line.unwrap_or_default();
        assert!(line.iter().all(|n| target.range.contains(&n.pitch)));
        line.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / line.len().max(1) as f64
    };
    assert!(mean(1.0) - mean(0.0) >= 11.0, "an octave apart");
}

#[test]
fn developments_are_requests_the_composer_already_knows() {
    let theme = theme();
    let key = Scale::new(PitchClass::A, Mode::NaturalMinor);
    let target = ThemeTarget {
        bars: Some(4),
        ..ThemeTarget::new(key, 126.0)
    };
    let base = Request {
        layers: vec![Layer::Melody, Layer::Bass, Layer::Drums],
        seed: 9,
        ..Request::default()
    };
    for kind in Development::ALL {
        let request =
            development(&theme, kind, &target, &base).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(
            request.validate().is_ok(),
            "{kind}: {:?}",
            request.validate()
        );
        assert_eq!(request.key, Some(key));
        match (&request.task, kind) {
            (Task::Continue { primer }, Development::Continue) => {
                assert!(recall(&theme, primer, None).score > 0.99);
                assert_eq!(request.bars, 4);
            }
            (Task::Infill { score, bars, layer }, _) => {
                assert_eq!(*layer, None);
                assert_eq!(*bars.end(), 4);
                let kept = u64::from(*bars.start() - 1) * 1920;
                assert!(kept > 0, "{kind} keeps a head");
                // The kept head carries theme material, and the rest is left to the model.
                let head = recall(
                    &theme.head(1).unwrap_or_else(|e| panic!("{e}")),
                    score,
                    None,
                );
                let melody = melody_line(score);
                assert!(melody.iter().all(|n| n.start < kept), "{kind}");
                assert!(head.rhythm > 0.99, "{kind}: {head:?}");
                if kind != Development::Inversion && kind != Development::Fragment {
                    assert!(head.score > 0.99, "{kind}: {head:?}");
                }
            }
            (task, _) => panic!("{kind}: unexpected task {task:?}"),
        }
    }
    assert_eq!(
        "sequence".parse::<Development>().ok(),
        Some(Development::Sequence)
    );
}

#[test]
fn recall_separates_the_theme_from_other_music() {
    let theme = theme();
    // A scale run and a repeated note in the same rhythm carry far less of it.
    let mut other = tune_score();
    for (i, note) in other.tracks[0].notes.iter_mut().enumerate() {
        note.pitch = [60u8, 72, 59, 65, 67, 55, 74][i % 7];
    }
    let r = recall(&theme, &other, None);
    assert!(r.rhythm > 0.99, "same rhythm: {r:?}");
    assert!(r.score < 0.8, "{r:?}");
    let mut sparse = Score::default();
    let mut track = Track::new("Melody", Role::Melody, 73, 0);
    track.notes = (0..4)
        .map(|i| Note {
            start: i * 1920,
            duration: 1920,
            pitch: 64,
            velocity: 80,
        })
        .collect();
    sparse.tracks.push(track);
    sparse.normalize();
    assert!(recall(&theme, &sparse, None).score < 0.35);
    // A transposed, augmented statement is found whole.
    let target = ThemeTarget::new(Scale::new(PitchClass::F, Mode::Dorian), 240.0);
    let fitted = theme.fit(&target).unwrap_or_else(|e| panic!("{e}"));
    let r = recall(&theme, &fitted, None);
    assert!(r.score > 0.99 && (r.factor - 2.0).abs() < 1e-9, "{r:?}");
}

#[test]
fn bad_themes_and_names_give_typed_errors() {
    assert_eq!(
        Theme::from_score(&Score::default()).err(),
        Some(ThemeError::Empty)
    );
    let mut drums = Score::default();
    let mut kit = Track::new("Drums", Role::Drums, 0, 9);
    kit.notes.push(Note {
        start: 0,
        duration: 120,
        pitch: 36,
        velocity: 100,
    });
    drums.tracks.push(kit);
    drums.normalize();
    assert_eq!(Theme::from_score(&drums).err(), Some(ThemeError::Empty));
    let mut broken = tune_score();
    broken.end_tick = 10;
    assert!(matches!(
        Theme::from_score(&broken),
        Err(ThemeError::Invalid(_))
    ));
    let mut book = ThemeBook::default();
    assert!(
        matches!(book.get("boss"), Err(ThemeError::Unknown { ref known, .. }) if known == "none")
    );
    assert!(book.register("hero", &tune_score()).is_ok());
    let err = book
        .get("boss")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("\"boss\"") && err.contains("hero"), "{err}");
    assert!(matches!(
        "twelve-tone".parse::<Development>(),
        Err(ThemeError::UnknownDevelopment(_))
    ));
    let one_bar = ThemeTarget {
        bars: Some(1),
        ..ThemeTarget::new(Scale::new(PitchClass::C, Mode::Major), 100.0)
    };
    assert!(matches!(
        development(
            &theme(),
            Development::NewEnding,
            &one_bar,
            &Request::default()
        ),
        Err(ThemeError::Target(_))
    ));
    let bad_tempo = ThemeTarget::new(Scale::new(PitchClass::C, Mode::Major), 0.0);
    assert!(matches!(
        theme().fit(&bad_tempo),
        Err(ThemeError::Target(_))
    ));
}
