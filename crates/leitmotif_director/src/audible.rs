//! What an audio player plays: the notes sounding in a stretch of session time, each with
//! a stable identity and the deck it plays on, and the decks' sections with their fades.
//!
//! The states' music alternates between two decks: each new state's music plays on the
//! deck the previous state's did not, so that the old music can go on under the new while
//! it fades out over the new mood's `crossfade_beats` (a crossfade), or stop on the
//! boundary's sample (a cut). During a crossfade the old music plays what it would have
//! played had no change come: its phrase goes on past the cut, looping if it ends, its
//! pitched notes moved into the new music's scale where the key changed.

use leitmotif_request::Mood;
use leitmotif_request::request::layer_of_role;
use leitmotif_score::Note;
use leitmotif_score::theory::Scale;
use leitmotif_tokens::Layer;

use crate::clock::PPQ;
use crate::director::Director;
use crate::session::{DRUMS, Phrase, Pivot, Placement, ROLES};

/// Where a note sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// One of the two decks (0 or 1) the states' music alternates between.
    Deck(u8),
    /// Stingers, over the music.
    Stinger,
}

/// A note's identity, the same in every query: where its phrase was placed, which pass of
/// it, and which note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NoteKey {
    /// Where its placement (or stinger) starts, in session ticks.
    pub placed: u64,
    /// Its phrase's id.
    pub phrase: u64,
    /// 0 for the placement itself; 1, 2... for the further passes of a fading tail that
    /// loops its phrase.
    pub pass: u32,
    /// Its layer's slot: 0 melody, 1 bass, 2 chords, 3 drums.
    pub slot: u8,
    /// Its index among its phrase's notes of that layer; past them (the index plus their
    /// number) for the second half of a note a key change's pivot chord moves while it
    /// sounds.
    pub index: u32,
}

/// A note as an audio player schedules it, in session seconds (0 is the first phrase's
/// first beat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoundingNote {
    /// Its identity.
    pub key: NoteKey,
    /// Where it sounds.
    pub lane: Lane,
    /// Its layer.
    pub layer: Layer,
    /// MIDI pitch.
    pub pitch: u8,
    /// MIDI velocity.
    pub velocity: u8,
    /// Where it starts.
    pub on: f64,
    /// Where it ends (cut where its music is cut, or where a fading tail stops).
    pub off: f64,
}

/// One state's music on a deck: back-to-back phrases of that state, from where it begins
/// to where it has faded out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Section<'a> {
    /// Its deck, 0 or 1.
    pub deck: u8,
    /// Its state (or cue) as the game named it.
    pub state: &'a str,
    /// The mood the state resolves to in the director's table (`None` for a cue).
    pub mood: Option<&'a Mood>,
    /// Where it begins, in session seconds.
    pub start: f64,
    /// How long it fades in from `start`, in seconds (0: full at once, a cut).
    pub fade_in: f64,
    /// Where the next state's music begins and this one starts to fade out (infinite while
    /// no other state is scheduled).
    pub end: f64,
    /// How long it fades out from `end`, in seconds (0: silent at once, a cut).
    pub fade_out: f64,
    /// Where it falls silent: `end + fade_out`, or earlier where the state after next
    /// begins on the same deck.
    pub stop: f64,
}

impl Section<'_> {
    /// Its deck's gain at `seconds`: an equal-power fade in from `start` and out from
    /// `end`, 0 outside `start..stop`. With `left`, the value just before `seconds` (where
    /// a cut jumps).
    pub fn gain(&self, seconds: f64, left: bool) -> f64 {
        let inside = if left {
            seconds > self.start && seconds <= self.stop
        } else {
            seconds >= self.start && seconds < self.stop
        };
        if !inside {
            return 0.0;
        }
        let quarter = std::f64::consts::FRAC_PI_2;
        let fade_in = if self.fade_in > 0.0 && seconds < self.start + self.fade_in {
            (quarter * (seconds - self.start) / self.fade_in).sin()
        } else {
            1.0
        };
        let past_end = if left {
            seconds > self.end
        } else {
            seconds >= self.end
        };
        let fade_out = if !past_end {
            1.0
        } else if self.fade_out > 0.0 {
            (quarter * ((seconds - self.end) / self.fade_out).min(1.0)).cos()
        } else {
            0.0
        };
        fade_in * fade_out
    }
}

/// What sounds in a stretch of session time (see [`Director::audible`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audible<'a> {
    /// The sections that sound in the stretch (fading tails included), in order of start.
    pub sections: Vec<Section<'a>>,
    /// Every note sounding in the stretch, sections' and stingers', in no set order.
    pub notes: Vec<SoundingNote>,
}

/// A section's placements, before times are worked out.
struct Run {
    first: usize,
    last: usize,
    deck: u8,
}

impl Director {
    /// The music sounding in session seconds `lo..hi`, as an audio player plays it: the
    /// decks' [`Section`]s and every note that overlaps the stretch (`on < hi` and
    /// `off > lo`), each with its [`NoteKey`], its [`Lane`] and its times in session
    /// seconds. Notes keep their keys from one query to the next; a later query may end
    /// one earlier (a change of state cut its music) but never moves its start. Empty
    /// before the music starts.
    ///
    /// Within a state, notes are cut where their phrase was cut, as in
    /// [`session_score`](Self::session_score), so a note held across a phrase boundary
    /// ends on the very tick the next phrase's notes start. At a change of state whose
    /// mood crossfades, the old state's last phrase goes on (looping if it ends) on its
    /// deck until its fade is over; where the key changed, the notes it starts past the cut
    /// move to the nearest note of the new key's scale (drums as they are).
    pub fn audible(&self, lo: f64, hi: f64) -> Audible<'_> {
        let mut out = Audible::default();
        if !self.started || hi <= lo {
            return out;
        }
        let placements = &self.timeline.placements;
        let phrases = &self.timeline.phrases;
        let mut runs: Vec<Run> = Vec::new();
        for (i, p) in placements.iter().enumerate() {
            let state = phrases.get(p.phrase).map(|ph| ph.state.as_str());
            match runs.last_mut() {
                Some(run)
                    if phrases
                        .get(placements[run.last].phrase)
                        .map(|ph| ph.state.as_str())
                        == state =>
                {
                    run.last = i;
                }
                last => {
                    let deck = last.map_or(0, |run| 1 - run.deck);
                    runs.push(Run {
                        first: i,
                        last: i,
                        deck,
                    });
                }
            }
        }
        let start_of = |run: &Run| self.clock.seconds_at(placements[run.first].start);
        let fade_of = |run: &Run| {
            let p = &placements[run.first];
            let beats = phrases.get(p.phrase).map_or(0.0, |ph| ph.crossfade_beats);
            let segment = self.clock.segment_at(p.start);
            beats * segment.beat_ticks() as f64 * segment.seconds_per_tick()
        };
        for (k, run) in runs.iter().enumerate() {
            let Some(phrase) = phrases.get(placements[run.first].phrase) else {
                continue;
            };
            let start = start_of(run);
            let fade_in = if k == 0 { 0.0 } else { fade_of(run) };
            let (end, fade_out) = match runs.get(k + 1) {
                Some(next) => (start_of(next), fade_of(next)),
                None => (f64::INFINITY, 0.0),
            };
            let stop = match runs.get(k + 2) {
                Some(after) => (end + fade_out).min(start_of(after)),
                None => end + fade_out,
            };
            if stop <= lo || start >= hi {
                continue;
            }
            out.sections.push(Section {
                deck: run.deck,
                state: &phrase.state,
                mood: phrase.mood.as_deref().and_then(|m| self.table.moods.get(m)),
                start,
                fade_in,
                end,
                fade_out,
                stop,
            });
            for (j, p) in placements
                .iter()
                .enumerate()
                .take(run.last + 1)
                .skip(run.first)
            {
                let tail = j == run.last && k + 1 < runs.len() && fade_out > 0.0;
                let Some(phrase) = phrases.get(p.phrase) else {
                    continue;
                };
                // The key the fading tail sounds under: the next state's music's.
                let under = runs
                    .get(k + 1)
                    .and_then(|next| phrases.get(placements[next.first].phrase))
                    .map(|next| next.key);
                let tail = tail.then_some(Tail { stop, under });
                self.placement_notes(p, phrase, run.deck, tail, lo, hi, &mut out);
            }
        }
        for o in &self.timeline.overlays {
            let Some(phrase) = phrases.get(o.phrase) else {
                continue;
            };
            if self.clock.seconds_at(o.start) >= hi {
                break;
            }
            for (slot, notes) in phrase.notes.iter().enumerate() {
                for (index, n) in notes.iter().enumerate() {
                    let on = self.clock.seconds_at(o.start + n.start);
                    let off = self.clock.seconds_at(o.start + n.start + n.duration);
                    if on < hi && off > lo {
                        out.notes.push(sounding(
                            key(o.start, phrase.id, 0, slot, index),
                            Lane::Stinger,
                            slot,
                            n,
                            on,
                            off,
                        ));
                    }
                }
            }
        }
        out
    }

    /// The notes of placement `p` overlapping `lo..hi`; with `tail`, its phrase goes on
    /// past the placement's end (looping) until the tail's stop, in the new music's scale.
    #[expect(
        clippy::too_many_arguments,
        reason = "one private helper of `audible`, called once"
    )]
    fn placement_notes(
        &self,
        p: &Placement,
        phrase: &Phrase,
        deck: u8,
        tail: Option<Tail>,
        lo: f64,
        hi: f64,
        out: &mut Audible<'_>,
    ) {
        let base = self.clock.seconds_at(p.start);
        let end = self.clock.seconds_at(p.end);
        let reach = tail.map_or(end, |t| t.stop);
        if base >= hi || reach <= lo {
            return;
        }
        // Within the placement the clock runs at the phrase's tempo; a tail keeps it.
        let per_tick = 60.0 / (phrase.bpm * f64::from(PPQ));
        let at = |rel: u64| base + rel as f64 * per_tick;
        let cut = p.end - p.start;
        let lane = Lane::Deck(deck);
        let pivot = self.timeline.pivots.get(&p.start);
        for (slot, notes) in phrase.notes.iter().enumerate() {
            // Sorted by start: nothing after the cut or the stretch's end. A note a pivot
            // stops early sounds again on its new pitch, keyed past the phrase's notes.
            for (index, n) in notes.iter().enumerate() {
                if n.start >= cut {
                    break;
                }
                if at(n.start) >= hi {
                    break;
                }
                let (n, again) = Pivot::apply(pivot, slot, index, p.start + n.start, n);
                let pieces =
                    std::iter::once((index, n)).chain(again.map(|a| (notes.len() + index, a)));
                for (index, n) in pieces {
                    let on = at(n.start);
                    if n.start >= cut || on >= hi {
                        continue;
                    }
                    let off = match tail {
                        Some(Tail { stop, .. }) => at(n.start + n.duration).min(stop),
                        None if n.start + n.duration >= cut => end,
                        None => at(n.start + n.duration),
                    };
                    if off > lo && off > on {
                        out.notes.push(sounding(
                            key(p.start, phrase.id, 0, slot, index),
                            lane,
                            slot,
                            &n,
                            on,
                            off,
                        ));
                    }
                }
            }
        }
        let Some(Tail { stop, under }) = tail else {
            return;
        };
        // Past the cut the fading music keeps to the new music's scale.
        let under = under.filter(|key| *key != phrase.key);
        let length = phrase.length.max(1);
        let mut pass = 0u32;
        loop {
            let origin = u64::from(pass) * length;
            if at(origin) >= stop.min(hi) {
                break;
            }
            for (slot, notes) in phrase.notes.iter().enumerate() {
                for (index, n) in notes.iter().enumerate() {
                    let rel = origin + n.start;
                    if rel < cut {
                        continue;
                    }
                    let on = at(rel);
                    if on >= hi || on >= stop {
                        break;
                    }
                    let off = at(rel + n.duration).min(stop);
                    if on < hi && on < stop && off > lo {
                        let pitch = match under {
                            Some(key) if slot != DRUMS => key.snap(n.pitch),
                            _ => n.pitch,
                        };
                        out.notes.push(sounding(
                            key(p.start, phrase.id, pass, slot, index),
                            lane,
                            slot,
                            &Note { pitch, ..*n },
                            on,
                            off,
                        ));
                    }
                }
            }
            pass += 1;
        }
    }
}

/// A placement's music going on past its cut while it fades: until `stop` (seconds), in
/// the scale of `under`, the key of the music it fades under.
#[derive(Debug, Clone, Copy)]
struct Tail {
    stop: f64,
    under: Option<Scale>,
}

fn key(placed: u64, phrase: u64, pass: u32, slot: usize, index: usize) -> NoteKey {
    NoteKey {
        placed,
        phrase,
        pass,
        slot: u8::try_from(slot).unwrap_or(u8::MAX),
        index: u32::try_from(index).unwrap_or(u32::MAX),
    }
}

fn sounding(key: NoteKey, lane: Lane, slot: usize, n: &Note, on: f64, off: f64) -> SoundingNote {
    let layer = ROLES
        .get(slot)
        .and_then(|role| layer_of_role(*role))
        .unwrap_or(Layer::Melody);
    SoundingNote {
        key,
        lane,
        layer,
        pitch: n.pitch,
        velocity: n.velocity,
        on,
        off,
    }
}
