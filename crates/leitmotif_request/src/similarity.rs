//! Bar-level self-similarity: how often a melody's 2- and 4-bar groups come back later,
//! exactly or varied — the measure of whether music has a form a listener can follow.
//!
//! A *group* is `n` consecutive bars of the melody line (see [`melody_line`]) starting on
//! any bar; groups with fewer than two notes are not counted (nothing to recognise). A group
//! *returns* when a group of the same length starting at or after its end (later, not
//! overlapping it) is
//!
//! - **exact**: the same onsets (to the tick, from the group's bar line) and the same
//!   intervals from the first note — any transposition; or else
//! - **varied**: a similarity at or above the threshold (default [`DEFAULT_THRESHOLD`]): each
//!   note is paired with the nearest note starting within a thirty-second note of its place,
//!   and earns a point for the pair and another where its scale degree agrees under the
//!   diatonic transposition most pairs agree on, over twice the larger group's note count.
//!
//! ```
//! use leitmotif_request::similarity::{DEFAULT_THRESHOLD, self_similarity};
//! use leitmotif_score::{Note, Role, Score, Track};
//!
//! // Two bars of C E G C', then the same two bars a fifth higher.
//! let mut score = Score::default();
//! let mut melody = Track::new("Melody", Role::Melody, 73, 0);
//! for (i, pitch) in [60u8, 64, 67, 72, 60, 64, 67, 72, 67, 71, 74, 79, 67, 71, 74, 79]
//!     .into_iter()
//!     .enumerate()
//! {
//!     melody.notes.push(Note { start: i as u64 * 480, duration: 480, pitch, velocity: 90 });
//! }
//! score.tracks.push(melody);
//! score.normalize();
//! let found = self_similarity(&score, DEFAULT_THRESHOLD);
//! // Bars 1-2 (as 2-bar group) return exactly in bars 3-4; bar 2's group (bars 2-3) and
//! // the last group (bars 3-4) have nothing after them.
//! assert_eq!((found.two.groups, found.two.exact), (3, 1));
//! ```

use leitmotif_score::time::BarMap;
use leitmotif_score::{DEFAULT_PPQ, Note, Score};
use serde::Serialize;

use crate::theme::{diatonic, key_at, melody_line};

/// The similarity at or above which a group counts as returning varied.
pub const DEFAULT_THRESHOLD: f64 = 0.75;

/// Group lengths measured, in bars.
pub const GROUP_BARS: [usize; 2] = [2, 4];

/// How the groups of one length fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Returns {
    /// Bars in a group.
    pub bars: usize,
    /// Groups counted (two notes or more).
    pub groups: usize,
    /// Groups heard again later exactly (any transposition).
    pub exact: usize,
    /// Groups not heard again exactly but heard varied (similarity at or above the
    /// threshold).
    pub varied: usize,
}

impl Returns {
    /// The share of groups heard again exactly, 0 to 1 (0 with no groups).
    pub fn exact_share(&self) -> f64 {
        share(self.exact, self.groups)
    }

    /// The share of groups heard again exactly or varied, 0 to 1 (0 with no groups).
    pub fn return_share(&self) -> f64 {
        share(self.exact + self.varied, self.groups)
    }

    /// Adds `other`'s counts (pooling pieces of one group length).
    pub fn add(&mut self, other: &Returns) {
        self.bars = other.bars;
        self.groups += other.groups;
        self.exact += other.exact;
        self.varied += other.varied;
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A melody's 2- and 4-bar returns.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct SelfSimilarity {
    /// The threshold a varied return reached.
    pub threshold: f64,
    /// 2-bar groups.
    pub two: Returns,
    /// 4-bar groups.
    pub four: Returns,
}

impl SelfSimilarity {
    /// Adds `other`'s counts (pooling pieces).
    pub fn add(&mut self, other: &SelfSimilarity) {
        self.threshold = other.threshold;
        self.two.add(&other.two);
        self.four.add(&other.four);
    }
}

/// One note of a group: onset from the group's start, pitch, diatonic number in its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    onset: u64,
    pitch: u8,
    degree: i32,
}

/// How alike two groups of notes are, 0 to 1. Each note of the first (by onset from its
/// group's start) pairs with the nearest note of the second starting within a
/// thirty-second note of it; the diatonic transposition is the one most pairs agree on.
/// Every pair earns a point for its onset and another when its scale degree matches under
/// that transposition; the points are over twice the larger group's note count, so extra
/// or missing notes on either side cost.
fn similarity(a: &[Point], b: &[Point], tolerance: u64) -> f64 {
    let most = a.len().max(b.len());
    if most == 0 {
        return 1.0;
    }
    let mut shifts: Vec<i32> = Vec::new();
    for p in a {
        let from = b.partition_point(|q| q.onset + tolerance < p.onset);
        let nearest = b[from..]
            .iter()
            .take_while(|q| q.onset <= p.onset + tolerance)
            .min_by_key(|q| q.onset.abs_diff(p.onset));
        if let Some(q) = nearest {
            shifts.push(q.degree - p.degree);
        }
    }
    shifts.sort_unstable();
    // How many pairs agree on the most common shift.
    let mut agree = 0;
    let mut run = 0;
    for (i, s) in shifts.iter().enumerate() {
        run = if i > 0 && shifts[i - 1] == *s {
            run + 1
        } else {
            1
        };
        agree = agree.max(run);
    }
    (shifts.len() + agree) as f64 / (2 * most) as f64
}

/// Whether two groups are the same music: the same onsets and intervals.
fn exact(a: &[Point], b: &[Point]) -> bool {
    a.len() == b.len()
        && a.first().zip(b.first()).is_some_and(|(a0, b0)| {
            a.iter().zip(b).all(|(p, q)| {
                p.onset == q.onset
                    && i32::from(p.pitch) - i32::from(a0.pitch)
                        == i32::from(q.pitch) - i32::from(b0.pitch)
            })
        })
}

/// The 2- and 4-bar returns of `score`'s melody line (see the module docs); scale degrees
/// are read in the key its key signature states at each group's start (its notes'
/// estimate when it states none).
pub fn self_similarity(score: &Score, threshold: f64) -> SelfSimilarity {
    let score = score.at_resolution(DEFAULT_PPQ);
    let line = melody_line(&score);
    let bars: Vec<(u64, u64)> = BarMap::new(&score)
        .bars()
        .iter()
        .map(|b| (b.start, b.end()))
        .collect();
    let groups = |n: usize| group_returns(&score, &line, &bars, n, threshold);
    SelfSimilarity {
        threshold,
        two: groups(GROUP_BARS[0]),
        four: groups(GROUP_BARS[1]),
    }
}

fn group_returns(
    score: &Score,
    line: &[Note],
    bars: &[(u64, u64)],
    n: usize,
    threshold: f64,
) -> Returns {
    let tolerance = u64::from(DEFAULT_PPQ) / 8;
    // Every n-bar group: its span and notes.
    let groups: Vec<((u64, u64), Vec<Point>)> = bars
        .windows(n)
        .map(|w| {
            let (lo, hi) = (w[0].0, w[n - 1].1);
            let key = key_at(score, lo);
            let from = line.partition_point(|x| x.start < lo);
            let points = line[from..]
                .iter()
                .take_while(|x| x.start < hi)
                .map(|x| Point {
                    onset: x.start - lo,
                    pitch: x.pitch,
                    degree: diatonic(x.pitch, key),
                })
                .collect();
            ((lo, hi), points)
        })
        .collect();
    let mut returns = Returns {
        bars: n,
        ..Returns::default()
    };
    for (i, ((lo, hi), points)) in groups.iter().enumerate() {
        if points.len() < 2 {
            continue;
        }
        returns.groups += 1;
        let length = hi - lo;
        let later = groups[i + n.min(groups.len() - i)..]
            .iter()
            .filter(|((l, h), p)| h - l == length && p.len() >= 2);
        let mut best = 0.0f64;
        let mut found = false;
        for (_, other) in later {
            if exact(points, other) {
                found = true;
                break;
            }
            best = best.max(similarity(points, other, tolerance));
        }
        if found {
            returns.exact += 1;
        } else if best >= threshold {
            returns.varied += 1;
        }
    }
    returns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(notes: &[(u64, u8, i32)]) -> Vec<Point> {
        notes
            .iter()
            .map(|&(onset, pitch, degree)| Point {
                onset,
                pitch,
                degree,
            })
            .collect()
    }

    #[test]
    fn similarity_counts_onsets_and_agreeing_degrees() {
        let a = points(&[(0, 60, 0), (480, 62, 1), (960, 64, 2), (1440, 65, 3)]);
        // A step higher throughout: every onset and every degree under one shift.
        let b = points(&[(0, 62, 1), (480, 64, 2), (960, 65, 3), (1440, 67, 4)]);
        assert!((similarity(&a, &b, 60) - 1.0).abs() < 1e-12);
        assert!(
            !exact(&a, &b),
            "a diatonic step is not a chromatic transposition"
        );
        // The last two notes changed, one onset moved past the tolerance: 3 onsets, 2
        // degrees agreeing, over 8.
        let c = points(&[(0, 60, 0), (480, 62, 1), (1000, 59, -1), (1600, 57, -2)]);
        assert!((similarity(&a, &c, 60) - 5.0 / 8.0).abs() < 1e-12);
        // An extra note costs.
        let mut d = a.clone();
        d.push(Point {
            onset: 1680,
            pitch: 67,
            degree: 4,
        });
        assert!((similarity(&a, &d, 60) - 8.0 / 10.0).abs() < 1e-12);
        assert!(exact(&a, &a));
    }
}
