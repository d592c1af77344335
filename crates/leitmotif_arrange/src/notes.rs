//! Final clean-ups that guarantee each part's invariants whatever the patterns wrote.

use std::ops::RangeInclusive;

use leitmotif_score::Note;

/// The pitch of `range` (capped at 127) accepted by `ok` that lies nearest `target`, the
/// lower on ties.
pub(crate) fn nearest(
    range: &RangeInclusive<u8>,
    target: f64,
    ok: impl Fn(u8) -> bool,
) -> Option<u8> {
    let high = (*range.end()).min(127);
    let mut best: Option<(u8, f64)> = None;
    for p in *range.start()..=high {
        let d = (f64::from(p) - target).abs();
        if ok(p) && best.is_none_or(|(_, bd)| d < bd) {
            best = Some((p, d));
        }
    }
    best.map(|(p, _)| p)
}

/// Sorts `notes` by start and cuts each so it ends by the next one's start, dropping
/// notes left without ticks: the part becomes monophonic.
pub(crate) fn monophonic(mut notes: Vec<Note>) -> Vec<Note> {
    notes.sort_by_key(|n| (n.start, n.pitch));
    notes.dedup_by_key(|n| n.start);
    let starts: Vec<u64> = notes.iter().map(|n| n.start).skip(1).collect();
    for (note, next) in notes.iter_mut().zip(starts) {
        note.duration = note.duration.min(next - note.start);
    }
    notes.retain(|n| n.duration > 0);
    notes
}

/// Sorts `notes` by start and pitch and cuts each so it ends by the next start of the same
/// pitch, dropping duplicates and notes left without ticks: no pitch sounds twice at once.
pub(crate) fn no_same_pitch_overlap(mut notes: Vec<Note>) -> Vec<Note> {
    notes.sort_by_key(|n| (n.pitch, n.start));
    notes.dedup_by_key(|n| (n.pitch, n.start));
    for i in 1..notes.len() {
        let (before, after) = notes.split_at_mut(i);
        if let (Some(prev), Some(next)) = (before.last_mut(), after.first())
            && prev.pitch == next.pitch
        {
            prev.duration = prev.duration.min(next.start - prev.start);
        }
    }
    notes.retain(|n| n.duration > 0);
    notes.sort_by_key(|n| (n.start, n.pitch));
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: u64, duration: u64, pitch: u8) -> Note {
        Note {
            start,
            duration,
            pitch,
            velocity: 80,
        }
    }

    #[test]
    fn nearest_prefers_the_lower_on_ties() {
        assert_eq!(nearest(&(40..=50), 45.0, |p| p % 2 == 0), Some(44));
        assert_eq!(nearest(&(40..=50), 60.0, |_| true), Some(50));
        assert_eq!(nearest(&(120..=255), 200.0, |_| true), Some(127));
        assert_eq!(nearest(&RangeInclusive::new(50, 40), 45.0, |_| true), None);
    }

    #[test]
    fn monophonic_cuts_overlaps() {
        let out = monophonic(vec![note(100, 50, 40), note(0, 200, 41), note(100, 10, 42)]);
        assert_eq!(out, vec![note(0, 100, 41), note(100, 50, 40)]);
    }

    #[test]
    fn same_pitch_overlaps_are_cut() {
        let out = no_same_pitch_overlap(vec![
            note(0, 200, 60),
            note(100, 100, 60),
            note(0, 300, 64),
            note(100, 0, 67),
        ]);
        assert_eq!(
            out,
            vec![note(0, 100, 60), note(0, 300, 64), note(100, 100, 60)]
        );
    }
}
