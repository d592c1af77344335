//! Musical attributes of a score, per bar and for the whole piece.
//!
//! These are the attributes the models are conditioned on (note density, register,
//! in-key ratio, polyphony, syncopation), so they are defined precisely here:
//!
//! - **density**: note onsets per quarter note, and per second at the bar's tempo;
//! - **range** and **mean pitch** (register) over pitched notes (drum tracks excluded);
//! - **in-key ratio**: the share of pitched onsets whose pitch class belongs to the key's
//!   scale (natural minor plus the raised 6th and 7th for minor keys);
//! - **polyphony**: the largest number of pitched notes sounding at once, and the mean over
//!   the time at least one sounds;
//! - **syncopation**: the share of pitched onsets that fall on a weak position (not on a
//!   beat) and keep sounding across the next beat, where no other note starts.

use serde::{Deserialize, Serialize};

use crate::score::{Note, Role, Score};
use crate::theory::{Key, KeyEstimate, PitchClass, estimate_key};
use crate::time::{Bar, BarMap, Meter, TempoMap};

/// Attributes of one bar (or of a whole piece, see [`PieceAnalysis`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarStats {
    /// Bar number from 0 (for a piece summary: the number of bars).
    pub bar: usize,
    /// First tick.
    pub start: u64,
    /// Meter in force.
    pub meter: Meter,
    /// Note onsets in the span, all tracks including drums.
    pub notes: usize,
    /// Pitched onsets per quarter note.
    pub notes_per_quarter: f64,
    /// Pitched onsets per second at the tempo in force.
    pub notes_per_second: f64,
    /// Lowest and highest pitched note starting in the span.
    pub pitch_range: Option<(u8, u8)>,
    /// Mean MIDI pitch of the pitched onsets (the register).
    pub mean_pitch: Option<f64>,
    /// Share of pitched onsets in the key's scale (None when no key or no notes).
    pub in_key_ratio: Option<f64>,
    /// Most pitched notes sounding at once.
    pub max_polyphony: usize,
    /// Mean pitched notes sounding, over the time at least one sounds.
    pub mean_polyphony: f64,
    /// Share of pitched onsets that are syncopated.
    pub syncopation: f64,
}

/// Attributes of a whole piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PieceAnalysis {
    /// The key stated in the first key signature, if any.
    pub stated_key: Option<Key>,
    /// The key estimated from the notes (Krumhansl-Schmuckler).
    pub estimated_key: Option<KeyEstimate>,
    /// The whole piece as one span (`bar` holds the bar count).
    pub overall: BarStats,
    /// One entry per bar.
    pub bars: Vec<BarStats>,
}

/// Analyses `score`: per-bar and whole-piece attributes.
///
/// The key used for the in-key ratio is the stated key when the score has one and the
/// estimated key otherwise.
pub fn analyze(score: &Score) -> PieceAnalysis {
    let bar_map = BarMap::new(score);
    let tempo = TempoMap::new(score);
    let pitched: Vec<Note> = pitched_notes(score);
    let estimated_key = estimate_key(&pitch_class_histogram(&pitched));
    let stated_key = score
        .key_signatures
        .first()
        .and_then(|k| Key::from_key_signature(k.sharps, k.minor).ok());
    let key = stated_key.or(estimated_key.map(|e| e.key));
    let drum_onsets: Vec<u64> = score
        .tracks
        .iter()
        .filter(|t| t.role == Role::Drums)
        .flat_map(|t| t.notes.iter().map(|n| n.start))
        .collect();

    let ctx = Context {
        ppq: score.ppq,
        key,
        tempo: &tempo,
        bar_map: &bar_map,
        sweep: Sweep::new(&pitched),
    };
    // Onsets sorted by start let each bar take its slice by binary search.
    let mut by_start = pitched;
    by_start.sort_by_key(|n| n.start);
    let mut drums_sorted = drum_onsets;
    drums_sorted.sort_unstable();
    let bars = bar_map
        .bars()
        .iter()
        .map(|bar| {
            let lo = by_start.partition_point(|n| n.start < bar.start);
            let hi = by_start.partition_point(|n| n.start < bar.end());
            let drums = drums_sorted.partition_point(|&t| t < bar.end())
                - drums_sorted.partition_point(|&t| t < bar.start);
            ctx.span_stats(bar, &by_start[lo..hi], drums)
        })
        .collect();
    let whole = Bar {
        index: bar_map.len(),
        start: 0,
        len: score.end_tick.max(1),
        meter: bar_map.bars()[0].meter,
    };
    let overall = ctx.span_stats(&whole, &by_start, drums_sorted.len());
    PieceAnalysis {
        stated_key,
        estimated_key,
        overall,
        bars,
    }
}

/// The duration-weighted pitch-class histogram of `notes` (the key estimator's input).
pub fn pitch_class_histogram(notes: &[Note]) -> [f64; 12] {
    // Zero-length notes still count a little, so a score of grace notes has a key.
    crate::theory::pitch_class_histogram(notes.iter().map(|n| (n.pitch, n.duration.max(1) as f64)))
}

/// All notes of the pitched (non-drum) tracks.
pub fn pitched_notes(score: &Score) -> Vec<Note> {
    score
        .tracks
        .iter()
        .filter(|t| t.role != Role::Drums)
        .flat_map(|t| t.notes.iter().copied())
        .collect()
}

struct Context<'a> {
    ppq: u16,
    key: Option<Key>,
    tempo: &'a TempoMap,
    bar_map: &'a BarMap,
    sweep: Sweep,
}

impl Context<'_> {
    /// Stats for the span of `bar`, given the pitched notes starting in it (`onsets`, sorted
    /// by start) and the number of drum onsets in it.
    fn span_stats(&self, bar: &Bar, onsets: &[Note], drums: usize) -> BarStats {
        let quarters = bar.len as f64 / f64::from(self.ppq.max(1));
        let seconds = self.tempo.seconds(bar.end()) - self.tempo.seconds(bar.start);
        let count = onsets.len();
        let pitch_range = onsets
            .iter()
            .map(|n| n.pitch)
            .fold(None, |acc: Option<(u8, u8)>, p| {
                Some(acc.map_or((p, p), |(lo, hi)| (lo.min(p), hi.max(p))))
            });
        let mean_pitch = (count > 0)
            .then(|| onsets.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / count as f64);
        let in_key_ratio = self.key.filter(|_| count > 0).map(|key| {
            let scale = key_scale_mask(key);
            let inside = onsets
                .iter()
                .filter(|n| scale[usize::from(PitchClass::from_midi(n.pitch).index())])
                .count();
            inside as f64 / count as f64
        });
        let (max_polyphony, mean_polyphony) = self.sweep.polyphony(bar.start, bar.end());
        BarStats {
            bar: bar.index,
            start: bar.start,
            meter: bar.meter,
            notes: count + drums,
            notes_per_quarter: ratio(count as f64, quarters),
            notes_per_second: ratio(count as f64, seconds),
            pitch_range,
            mean_pitch,
            in_key_ratio,
            max_polyphony,
            mean_polyphony,
            syncopation: self.syncopation(onsets),
        }
    }

    fn syncopation(&self, onsets: &[Note]) -> f64 {
        if onsets.is_empty() {
            return 0.0;
        }
        let syncopated = onsets
            .iter()
            .filter(|note| {
                let bar = self.bar_map.bar_at(note.start);
                let beat = bar.meter.ticks_per_beat(self.ppq).max(1);
                let offset = note.start - bar.start;
                if offset.is_multiple_of(beat) {
                    return false;
                }
                let next_beat = bar.start + (offset / beat + 1) * beat;
                let crosses = note.end() > next_beat;
                let beat_struck = onsets.binary_search_by_key(&next_beat, |n| n.start).is_ok();
                crosses && !beat_struck
            })
            .count();
        syncopated as f64 / onsets.len() as f64
    }
}

/// The pitch classes counted as in key: the scale, plus the raised 6th and 7th in minor.
fn key_scale_mask(key: Key) -> [bool; 12] {
    let mut mask = key.scale().mask();
    if key.minor {
        let tonic = key.tonic.index();
        mask[usize::from((tonic + 9) % 12)] = true;
        mask[usize::from((tonic + 11) % 12)] = true;
    }
    mask
}

/// Pitched notes sounding over time, as a sorted list of start (+1) and end (-1) edges with
/// running totals, so each bar's polyphony costs a binary search plus its own edges.
struct Sweep {
    /// (tick, change), ends before starts at the same tick: a note that ends as another
    /// begins does not make a chord.
    edges: Vec<(u64, i32)>,
    /// Notes sounding just after each edge.
    running: Vec<i32>,
}

impl Sweep {
    fn new(notes: &[Note]) -> Self {
        let mut edges: Vec<(u64, i32)> = notes
            .iter()
            .filter(|n| n.duration > 0)
            .flat_map(|n| [(n.start, 1), (n.end(), -1)])
            .collect();
        edges.sort_unstable();
        let running = edges
            .iter()
            .scan(0, |total, &(_, change)| {
                *total += change;
                Some(*total)
            })
            .collect();
        Self { edges, running }
    }

    /// (most notes sounding at once, mean sounding over the time any sounds) in start..end.
    fn polyphony(&self, start: u64, end: u64) -> (usize, f64) {
        let first = self.edges.partition_point(|e| e.0 <= start);
        let mut current = first.checked_sub(1).map_or(0, |i| self.running[i]);
        let (mut max, mut last) = (current, start);
        let (mut weighted, mut sounding) = (0.0, 0.0);
        let mut account = |current: i32, from: u64, to: u64| {
            if current > 0 {
                let span = (to - from) as f64;
                weighted += span * f64::from(current);
                sounding += span;
            }
        };
        for (i, &(tick, _)) in self.edges.iter().enumerate().skip(first) {
            if tick >= end {
                break;
            }
            account(current, last, tick);
            current = self.running[i];
            max = max.max(current);
            last = tick;
        }
        account(current, last, end);
        (usize::try_from(max).unwrap_or(0), ratio(weighted, sounding))
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{KeySignatureChange, TimeSignatureChange, Track};

    fn note(start: u64, duration: u64, pitch: u8) -> Note {
        Note {
            start,
            duration,
            pitch,
            velocity: 80,
        }
    }

    fn score_with(notes: Vec<Note>) -> Score {
        let mut score = Score::new(480);
        let mut track = Track::new("melody", Role::Melody, 0, 0);
        track.notes = notes;
        score.tracks.push(track);
        score.time_signatures.push(TimeSignatureChange {
            tick: 0,
            numerator: 4,
            denominator: 4,
        });
        score.normalize();
        score
    }

    #[test]
    fn density_range_and_register_per_bar() {
        // Bar 0: four quarters C D E F; bar 1: two half notes G, C5.
        let mut notes: Vec<Note> = [60, 62, 64, 65]
            .iter()
            .enumerate()
            .map(|(i, &p)| note(i as u64 * 480, 480, p))
            .collect();
        notes.push(note(1920, 960, 67));
        notes.push(note(2880, 960, 72));
        let a = analyze(&score_with(notes));
        assert_eq!(a.bars.len(), 2);
        assert_eq!(a.bars[0].notes, 4);
        assert!((a.bars[0].notes_per_quarter - 1.0).abs() < 1e-12);
        assert!(
            (a.bars[0].notes_per_second - 2.0).abs() < 1e-12,
            "120 bpm default"
        );
        assert_eq!(a.bars[1].pitch_range, Some((67, 72)));
        assert_eq!(a.bars[1].mean_pitch, Some(69.5));
        assert_eq!(a.overall.notes, 6);
        assert_eq!(a.overall.bar, 2);
        let key = a.estimated_key.map(|e| e.key.name());
        assert_eq!(key.as_deref(), Some("C major"));
        assert_eq!(a.overall.in_key_ratio, Some(1.0));
    }

    #[test]
    fn in_key_ratio_uses_the_stated_key_with_raised_degrees_in_minor() {
        // A minor stated; G# (raised 7th) counts as in key, D# does not.
        let mut score = score_with(vec![
            note(0, 480, 69),
            note(480, 480, 68),
            note(960, 480, 63),
        ]);
        score.key_signatures.push(KeySignatureChange {
            tick: 0,
            sharps: 0,
            minor: true,
        });
        let a = analyze(&score);
        let ratio = a.bars[0].in_key_ratio.unwrap_or(f64::NAN);
        assert!((ratio - 2.0 / 3.0).abs() < 1e-12, "got {ratio}");
    }

    #[test]
    fn polyphony_counts_overlaps_not_touching_notes() {
        let a = analyze(&score_with(vec![
            note(0, 960, 60),
            note(0, 960, 64),
            note(480, 480, 67),
            note(960, 960, 72),
        ]));
        assert_eq!(a.bars[0].max_polyphony, 3);
        // 0..480: 2 notes, 480..960: 3 notes, 960..1920: 1 note.
        let expected = (2.0 * 480.0 + 3.0 * 480.0 + 960.0) / 1920.0;
        assert!((a.bars[0].mean_polyphony - expected).abs() < 1e-12);
    }

    #[test]
    fn syncopation_counts_offbeat_notes_held_across_the_beat() {
        // Eighth, quarter tied over beat 2, eighth, half: "da DAA da DAAA".
        let a = analyze(&score_with(vec![
            note(0, 240, 60),
            note(240, 480, 62),
            note(720, 240, 64),
            note(960, 960, 65),
        ]));
        assert!((a.bars[0].syncopation - 0.25).abs() < 1e-12);
        let straight = analyze(&score_with(vec![note(0, 480, 60), note(480, 480, 62)]));
        assert!(straight.bars[0].syncopation.abs() < 1e-12);
    }

    #[test]
    fn drums_count_as_onsets_but_not_pitches() {
        let mut score = score_with(vec![note(0, 480, 60)]);
        let mut drums = Track::new("drums", Role::Drums, 0, 9);
        drums.notes = vec![note(0, 120, 36), note(480, 120, 38)];
        score.tracks.push(drums);
        let a = analyze(&score);
        assert_eq!(a.bars[0].notes, 3);
        assert_eq!(a.bars[0].pitch_range, Some((60, 60)));
    }
}
