//! Key changes prepared: where the music moves into another key, the bass and chords of
//! the last beats before the seam move onto a pivot chord that leads into the new key
//! (its dominant when the melody there allows), and the new music arrives on its tonic.

use leitmotif_arrange::{ArrangeSettings, BarSlot, nearest_chord_tone, nearest_root, pivot};
use leitmotif_request::moods::Transition;
use leitmotif_request::request::allowed_pitch_classes;
use leitmotif_score::Note;
use leitmotif_score::theory::{Chord, PitchClass, Scale};

use crate::clock::PPQ;
use crate::director::Director;
use crate::session::{BASS, CHORDS, MELODY, Move, Phrase, Pivot};

impl Director {
    /// Prepares the seam at `start`, where the placement just made begins, when its key
    /// differs from that of the music before it: the stretch from the first beat line not
    /// yet handed to a player (at most a bar before the seam) up to it is re-harmonised on
    /// the pivot chord that best leads into the new key given the old melody there
    /// ([`leitmotif_arrange::pivot`]). Its bass notes move to the chord's nearest tones, the
    /// first of them to its root; its chord notes to the nearest chord tones, no two of one
    /// onset on the same pitch. Notes held into the stretch stop at its start and sound
    /// again there on the chord (held chord tones sound on). The melody and drums are
    /// kept. Nothing happens when no beat line is left before the seam, or when the key
    /// does not change.
    pub(crate) fn prepare_seam(&mut self, start: u64) {
        let [.., before, after] = *self.timeline.placements.as_slice() else {
            return;
        };
        if start == 0 || before.end != start || after.start != start {
            return;
        }
        // What an earlier seam here moved and no player has had yet goes back first; a
        // pivot a player has had part of stays as it was played.
        let origin = before.start;
        if self.release_pivot(origin) {
            return;
        }
        let phrases = &self.timeline.phrases;
        let (Some(old), Some(new)) = (phrases.get(before.phrase), phrases.get(after.phrase)) else {
            return;
        };
        if old.key == new.key {
            return;
        }
        let segment = self.clock.segment_at(start - 1);
        let bar = segment.bar_ticks();
        let from = self
            .clock
            .next_boundary(self.horizon(), Transition::NextBeat)
            .max(start.saturating_sub(bar))
            .max(before.start);
        if from >= start {
            return;
        }
        let bar_start = self
            .clock
            .bar_start(self.clock.position(from).bar - 1)
            .max(origin);
        let slot = BarSlot {
            start: bar_start - origin,
            ticks: bar,
            meter: segment.meter,
            intensity: 0.5,
        };
        let chord = pivot(
            &old.notes[MELODY],
            &slot,
            from - origin,
            start - origin,
            &settings(old.key),
            &settings(new.key),
        );
        let moved: Vec<Move> = moved_notes(old, from - origin, start - origin, chord)
            .into_iter()
            .map(|m| Move {
                start: m.start + origin,
                ..m
            })
            .collect();
        tracing::debug!(from, start, %chord, old = %old.key, new = %new.key, "seam prepared");
        self.timeline.pivots.insert(
            origin,
            Pivot {
                from,
                to: start,
                chord,
                moved,
            },
        );
    }

    /// Undoes the part not yet handed to a player of the pivot ending the music now (the
    /// seam it prepared was dropped).
    pub(crate) fn release_seam(&mut self) {
        if let Some(last) = self.timeline.placements.last() {
            self.release_pivot(last.start);
        }
    }

    /// Undoes the part not yet handed to a player of the pivot of the placement starting
    /// at `origin`; returns whether any of it is left.
    fn release_pivot(&mut self, origin: u64) -> bool {
        let horizon = self.horizon();
        let Some(pivot) = self.timeline.pivots.get_mut(&origin) else {
            return false;
        };
        let kept = pivot.keep_before(horizon);
        if !kept {
            self.timeline.pivots.remove(&origin);
        }
        kept
    }
}

/// The arranger's settings for a key: its allowed pitch classes and tonic.
fn settings(key: Scale) -> ArrangeSettings {
    ArrangeSettings::new(PPQ, allowed_pitch_classes(key), key.tonic)
}

/// How the bass and chord notes of `phrase` sounding in `lo..hi` (ticks from its start)
/// move onto `chord`, sorted by slot and index, with starts from the phrase's start. A note
/// held into `lo` from before moves (stops there and sounds again) only where it is not a
/// tone of the chord, or for the bass, not its root.
fn moved_notes(phrase: &Phrase, lo: u64, hi: u64, chord: Chord) -> Vec<Move> {
    let starts = |n: &Note| n.start >= lo && n.start < hi;
    let held = |n: &Note| n.start < lo && n.start + n.duration > lo;
    let mut moved = Vec::new();
    // The bass sounding first in the stretch takes the root, the others the nearest tone.
    let mut first = true;
    for (index, n) in phrase.notes[BASS].iter().enumerate() {
        let held = held(n);
        if !held && !starts(n) {
            continue;
        }
        let pitch = if first {
            nearest_root(n.pitch, chord)
        } else {
            nearest_chord_tone(n.pitch, chord)
        };
        first = false;
        if !held || pitch != n.pitch {
            moved.push(Move {
                slot: BASS,
                index,
                start: n.start,
                pitch,
                held,
            });
        }
    }
    // Chord notes by onset (held ones at `lo`), lowest first: held chord tones stay and
    // the others take the nearest chord tone not yet sounding at that onset.
    let chords = &phrase.notes[CHORDS];
    let onset = |n: &Note| n.start.max(lo);
    let mut order: Vec<usize> = (0..chords.len())
        .filter(|&i| starts(&chords[i]) || held(&chords[i]))
        .collect();
    order.sort_by_key(|&i| (onset(&chords[i]), chords[i].pitch));
    let mut taken: Vec<(u64, u8)> = order
        .iter()
        .map(|&i| &chords[i])
        .filter(|n| held(n) && chord.contains(PitchClass::from_midi(n.pitch)))
        .map(|n| (lo, n.pitch))
        .collect();
    let tone = |p: &u8| chord.contains(PitchClass::from_midi(*p));
    let mut moves = Vec::with_capacity(order.len());
    for i in order {
        let n = &chords[i];
        let held = held(n);
        if held && tone(&n.pitch) {
            continue;
        }
        let at = onset(n);
        let nearest = nearest_chord_tone(n.pitch, chord);
        let free = |p: &u8| !taken.contains(&(at, *p));
        let pitch = (nearest..=127)
            .filter(tone)
            .find(free)
            .or_else(|| (0..nearest).rev().filter(tone).find(free))
            .unwrap_or(nearest);
        taken.push((at, pitch));
        moves.push(Move {
            slot: CHORDS,
            index: i,
            start: n.start,
            pitch,
            held,
        });
    }
    moves.sort_unstable_by_key(|m| m.index);
    moved.extend(moves);
    moved
}
