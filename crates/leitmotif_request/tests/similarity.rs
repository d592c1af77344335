//! Self-similarity of a melody built with known returns: the counts are worked out by hand
//! from the construction below.

use leitmotif_request::similarity::{DEFAULT_THRESHOLD, Returns, self_similarity};
use leitmotif_score::{KeySignatureChange, Note, Role, Score, Track};

const BAR: u64 = 1920;

/// Four one-bar motifs whose onsets never come within a thirty-second note (60 ticks) of
/// another motif's, so that bars of different motifs share nothing; pitches from C major's
/// pentatonic notes (C D E G A), whose fifths (G A B D E) stay in C major: a motif a fifth
/// higher is the same music four scale steps up.
const P: [(u64, u8); 4] = [(0, 60), (480, 62), (960, 64), (1440, 67)];
const Q: [(u64, u8); 4] = [(240, 69), (720, 67), (1200, 64), (1680, 62)];
const R: [(u64, u8); 4] = [(120, 64), (600, 60), (1080, 62), (1560, 69)];
const S: [(u64, u8); 4] = [(360, 67), (840, 69), (1320, 72), (1800, 64)];

/// Bars 1-4 are p q r s; bars 5-8 the same a fifth higher, except the very last note
/// (the fifth above E would be B; it is C).
fn melody() -> Score {
    let mut score = Score::new(480);
    score.key_signatures = vec![KeySignatureChange {
        tick: 0,
        sharps: 0,
        minor: false,
    }];
    let mut track = Track::new("Melody", Role::Melody, 73, 0);
    for (bar, motif) in [P, Q, R, S, P, Q, R, S].iter().enumerate() {
        let up = if bar >= 4 { 7 } else { 0 };
        for (i, &(onset, pitch)) in motif.iter().enumerate() {
            let last = bar == 7 && i == 3;
            track.notes.push(Note {
                start: bar as u64 * BAR + onset,
                duration: 120,
                pitch: if last { 72 } else { pitch + up },
                velocity: 90,
            });
        }
    }
    score.tracks.push(track);
    score.end_tick = 8 * BAR;
    score.normalize();
    score
}

#[test]
fn known_returns_are_counted_exactly() {
    let found = self_similarity(&melody(), DEFAULT_THRESHOLD);
    // 2-bar groups start on bars 1..=7 (seven groups). (p q) returns a fifth up as bars
    // 5-6 and (q r) as bars 6-7: exact. (r s) returns as (R S'): every onset, and 7 of 8
    // degrees under the shift of four steps, 15/16 >= 0.75: varied. (s P) has only (Q R)
    // and (R S') after it, sharing no onset; the last three have no group after them.
    assert_eq!(
        found.two,
        Returns {
            bars: 2,
            groups: 7,
            exact: 2,
            varied: 1,
        }
    );
    assert!((found.two.exact_share() - 2.0 / 7.0).abs() < 1e-12);
    assert!((found.two.return_share() - 3.0 / 7.0).abs() < 1e-12);
    // 4-bar groups start on bars 1..=5; only the first has one after it (bars 5-8): 31 of
    // 32 points, varied.
    assert_eq!(
        found.four,
        Returns {
            bars: 4,
            groups: 5,
            exact: 0,
            varied: 1,
        }
    );
    // A threshold between 15/16 and 31/32 keeps the 4-bar return and drops the 2-bar one.
    let strict = self_similarity(&melody(), 0.95);
    assert_eq!((strict.two.exact, strict.two.varied), (2, 0));
    assert_eq!((strict.four.exact, strict.four.varied), (0, 1));
    // A melody of one motif over and over returns everywhere it can.
    let mut same = melody();
    for note in &mut same.tracks[0].notes {
        let (onset, pitch) = P[((note.start % BAR) / 480) as usize % 4];
        note.start = note.start / BAR * BAR + onset;
        note.pitch = pitch;
    }
    same.normalize();
    let all = self_similarity(&same, DEFAULT_THRESHOLD);
    assert_eq!((all.two.groups, all.two.exact, all.two.varied), (7, 5, 0));
    assert_eq!((all.four.groups, all.four.exact), (5, 1));
}
