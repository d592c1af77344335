//! Given chords, feel and whole drafts, end to end on the shipped transformer: the melody's
//! strong beats on the chords and the arranger on them, a feel that is exact at 0, seeded
//! and bounded, and drafts that keep the likeliest.

use std::sync::OnceLock;

use leitmotif_arrange::{Feel, strong_beat};
use leitmotif_compose::request::parse_chords;
use leitmotif_compose::{ComposeError, Composer, Composition, Request};
use leitmotif_model::{BackendChoice, ModelSource};
use leitmotif_score::theory::{Chord, PitchClass};
use leitmotif_score::time::BarMap;
use leitmotif_score::{Note, Role, Score};
use leitmotif_tokens::Layer;

fn composer() -> &'static Composer {
    static TRANSFORMER: OnceLock<Composer> = OnceLock::new();
    TRANSFORMER.get_or_init(|| {
        Composer::load(&ModelSource::DefaultTransformer, BackendChoice::Cpu)
            .unwrap_or_else(|e| panic!("load: {e}"))
    })
}

fn compose(request: &Request) -> Composition {
    composer()
        .compose(request)
        .unwrap_or_else(|e| panic!("{request:?}: {e}"))
}

fn chords(text: &str) -> Vec<Chord> {
    parse_chords(text).unwrap_or_else(|e| panic!("{e}"))
}

fn track(score: &Score, role: Role) -> &[Note] {
    score
        .tracks
        .iter()
        .find(|t| t.role == role)
        .map_or(&[], |t| &t.notes)
}

fn all_layers() -> Vec<Layer> {
    vec![Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums]
}

#[test]
fn the_melody_and_the_arranger_follow_given_chords_bar_by_bar() {
    let progression = chords("Am F C G");
    for seed in 0..4 {
        let request = Request {
            layers: all_layers(),
            bars: 6,
            seed,
            chords: progression.clone(),
            ..Request::default()
        };
        let c = compose(&request);
        assert!(c.violations().is_empty(), "{:?}", c.violations());
        assert_eq!(c.key.to_string(), "C major", "the key that holds Am F C G");
        let bars = BarMap::new(&c.score);
        let mut strong = 0;
        for note in track(&c.score, Role::Melody) {
            let bar = bars.bar_at(note.start);
            let chord = progression[bar.index % progression.len()];
            if strong_beat(bar.meter, c.score.ppq, note.start - bar.start) {
                strong += 1;
                assert!(
                    chord.contains(PitchClass::from_midi(note.pitch)),
                    "seed {seed}: melody {} on a strong beat of bar {} under {chord}",
                    note.pitch,
                    bar.index + 1
                );
            }
        }
        assert!(strong > 0, "seed {seed}: no strong-beat melody note");
        // Bars 5 and 6 take the progression again from its start.
        for part in [Role::Chords, Role::Bass] {
            for note in track(&c.score, part) {
                let bar = bars.bar_at(note.start);
                let chord = progression[bar.index % progression.len()];
                let pc = PitchClass::from_midi(note.pitch);
                if part == Role::Chords {
                    assert!(
                        chord.contains(pc),
                        "{part:?} {} in bar {}",
                        note.pitch,
                        bar.index
                    );
                } else if note.start == bar.start {
                    assert_eq!(
                        pc,
                        chord.root,
                        "the bass's downbeat in bar {}",
                        bar.index + 1
                    );
                }
            }
        }
    }
}

#[test]
fn chords_outside_a_locked_key_are_refused_by_name() {
    let request = Request {
        key: "C major".parse().ok(),
        chords: chords("C E"),
        ..Request::default()
    };
    let message = composer()
        .compose(&request)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("chord E "), "{message}");
    assert!(matches!(
        composer().compose(&request),
        Err(ComposeError::Request(_))
    ));
    // With pitches free to leave the key the chord sounds whole.
    let c = compose(&Request {
        key_lock: false,
        layers: all_layers(),
        bars: 2,
        ..request
    });
    let bar_two = BarMap::new(&c.score).bars()[1].start;
    let pcs: Vec<u8> = track(&c.score, Role::Chords)
        .iter()
        .filter(|n| n.start >= bar_two)
        .map(|n| n.pitch % 12)
        .collect();
    assert!(pcs.contains(&8), "E major's G# is played: {pcs:?}");
}

/// Notes of one part, grouped by pitch, each group in time order (the feel keeps a pitch's
/// notes in order, so the groups pair up note for note).
fn by_pitch(notes: &[Note]) -> Vec<Note> {
    let mut sorted = notes.to_vec();
    sorted.sort_by_key(|n| (n.pitch, n.start));
    sorted
}

#[test]
fn feel_is_exact_at_zero_seeded_and_bounded() {
    let base = Request {
        layers: all_layers(),
        bars: 4,
        seed: 8,
        ..Request::default()
    };
    let exact = compose(&base);
    let zero = compose(&Request {
        humanize: 0.0,
        swing: 0.0,
        ..base.clone()
    });
    assert_eq!(zero.score, exact.score, "amount 0 is the exact grid");
    let loose = Request {
        humanize: 0.6,
        ..base.clone()
    };
    let a = compose(&loose);
    assert_eq!(a.score, compose(&loose).score, "same seed, same feel");
    assert!(a.violations().is_empty(), "{:?}", a.violations());
    assert_ne!(a.score, exact.score);
    let max = Feel {
        humanize: 0.6,
        swing: 0.0,
    }
    .max_shift(exact.score.ppq) as i64;
    let mut moved = 0;
    for (e, h) in exact.score.tracks.iter().zip(&a.score.tracks) {
        assert_eq!(e.notes.len(), h.notes.len(), "{}: note count", e.name);
        for (en, hn) in by_pitch(&e.notes).iter().zip(by_pitch(&h.notes)) {
            assert_eq!(en.pitch, hn.pitch);
            let shift = hn.start as i64 - en.start as i64;
            assert!(shift.abs() <= max, "{}: shift {shift} beyond {max}", e.name);
            moved += usize::from(shift != 0);
            assert!(
                en.velocity.abs_diff(hn.velocity) <= 8,
                "{}: velocity",
                e.name
            );
        }
    }
    assert!(moved > 0, "nothing moved");
    let other = compose(&Request {
        seed: 9,
        ..loose.clone()
    });
    assert_ne!(other.score, compose(&Request { seed: 9, ..base }).score);
}

#[test]
fn swing_delays_every_off_beat_eighth_alike() {
    let base = Request {
        layers: vec![Layer::Melody, Layer::Bass, Layer::Drums],
        bars: 4,
        seed: 3,
        intensity: leitmotif_compose::Curve::Constant(0.8),
        ..Request::default()
    };
    let straight = compose(&base);
    let swung = compose(&Request { swing: 0.6, ..base });
    let ppq = straight.score.ppq as u64;
    let delay = Feel {
        humanize: 0.0,
        swing: 0.6,
    }
    .swing_delay(straight.score.ppq);
    let mut off_beats = 0;
    for (s, w) in straight.score.tracks.iter().zip(&swung.score.tracks) {
        for (sn, wn) in by_pitch(&s.notes).iter().zip(by_pitch(&w.notes)) {
            match sn.start % ppq {
                0 => assert_eq!(wn.start, sn.start, "{}: on the beat", s.name),
                x if x == ppq / 2 => {
                    off_beats += 1;
                    assert_eq!(wn.start - sn.start, delay, "{}: off-beat eighth", s.name);
                }
                _ => {}
            }
        }
    }
    assert!(off_beats > 10, "only {off_beats} off-beat eighths");
}

#[test]
fn whole_drafts_keep_the_likeliest_and_repeat_for_a_seed() {
    let request = |drafts| Request {
        layers: vec![Layer::Melody],
        bars: 4,
        seed: 12,
        drafts,
        ..Request::default()
    };
    let four = compose(&request(4));
    assert_eq!(four.candidate_bits.len(), 4);
    assert_eq!(four.join_bits, None);
    let again = compose(&request(4));
    assert_eq!(four.score, again.score);
    assert_eq!(four.candidate_bits, again.candidate_bits);
    let (best, _) = four
        .candidate_bits
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap_or((0, &0.0));
    assert_ne!(
        best, 0,
        "seed 12 should keep a later draft: the test would say less"
    );
    // The first draft is the seed's single one; the drafts before the best (and the best
    // among them) are the first drafts of fewer.
    let one = compose(&request(1));
    assert!(one.candidate_bits.is_empty());
    assert_eq!(four.score == one.score, best == 0, "kept draft {best}");
    let upto_best = compose(&request(best + 1));
    assert_eq!(
        upto_best.score, four.score,
        "the kept draft is draft {best}"
    );
    for (a, b) in upto_best.candidate_bits.iter().zip(&four.candidate_bits) {
        assert!((a - b).abs() < 1e-3, "{a} against {b}");
    }
}
