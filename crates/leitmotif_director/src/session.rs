//! What was scheduled and played: delivered phrases, where each was placed on the session
//! timeline (and cut, or repeated), stinger overlays, and the scores rendered from them.

use std::collections::BTreeMap;

use leitmotif_request::Composition;
use leitmotif_request::request::layer_of_role;
use leitmotif_score::melody::Generation;
use leitmotif_score::theory::{Chord, Key, Scale};
use leitmotif_score::time::Meter;
use leitmotif_score::{KeySignatureChange, Marker, Note, Role, Score, TempoChange, Track};
use leitmotif_tokens::Layer;

use crate::clock::{MusicClock, PPQ};
use crate::error::DirectorError;

/// The roles the session keeps, in track order.
pub(crate) const ROLES: [Role; 4] = [Role::Melody, Role::Bass, Role::Chords, Role::Drums];

/// The slots of [`ROLES`], by name.
pub(crate) const MELODY: usize = 0;
pub(crate) const BASS: usize = 1;
pub(crate) const CHORDS: usize = 2;
pub(crate) const DRUMS: usize = 3;

/// The stinger track's name, channel and default program (brass section).
const STINGER_TRACK: (&str, u8, u8) = ("Stinger", 4, 61);

/// A delivered phrase, its notes relative to its own start.
#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    /// The job's id.
    pub id: u64,
    /// The game state (the name the game used) or stinger name.
    pub state: String,
    /// Tempo in quarter notes per minute.
    pub bpm: f64,
    /// Meter.
    pub meter: Meter,
    /// Key.
    pub key: Scale,
    /// Length in ticks (the written bars).
    pub length: u64,
    /// Notes by [`ROLES`] index, from the phrase's start.
    pub notes: [Vec<Note>; 4],
    /// Programs by [`ROLES`] index, where the phrase has the track.
    pub programs: [Option<u8>; 4],
    /// Layers written.
    pub layers: Vec<Layer>,
    /// How the composer made it (`None` for a cue the game supplied).
    pub generation: Option<Generation>,
    /// The crossfade into it when it starts a new state, in beats.
    pub crossfade_beats: f64,
    /// The mood its state resolved to when it was delivered (`None` for a cue).
    pub mood: Option<String>,
}

impl Phrase {
    /// Takes the written bars of `composition` apart: the notes starting in its span, cut to
    /// the span's end (notes cut to nothing are dropped).
    pub(crate) fn new(
        id: u64,
        state: String,
        composition: Composition,
    ) -> Result<Self, DirectorError> {
        let bad = |reason: String| DirectorError::InvalidPhrase { id, reason };
        let (lo, hi) = composition.span;
        if hi <= lo {
            return Err(bad(format!("it writes no bars (span {lo}..{hi})")));
        }
        if composition.score.ppq != PPQ {
            return Err(bad(format!(
                "its score is at {} PPQ, not {PPQ}",
                composition.score.ppq
            )));
        }
        crate::clock::check_bpm(composition.tempo_bpm).map_err(|e| bad(e.to_string()))?;
        crate::clock::check_meter(composition.meter).map_err(|e| bad(e.to_string()))?;
        let length = hi - lo;
        let mut notes: [Vec<Note>; 4] = Default::default();
        let mut programs = [None; 4];
        for track in &composition.score.tracks {
            let Some(slot) = ROLES.iter().position(|r| *r == track.role) else {
                continue;
            };
            programs[slot].get_or_insert(track.program);
            notes[slot].extend(track.notes.iter().filter_map(|n| {
                let start = n.start.checked_sub(lo).filter(|s| *s < length)?;
                let duration = n.duration.min(length - start);
                (duration > 0).then_some(Note {
                    start,
                    duration,
                    ..*n
                })
            }));
        }
        for slot in &mut notes {
            slot.sort_by_key(|n| (n.start, n.pitch));
        }
        Ok(Self {
            id,
            state,
            bpm: composition.tempo_bpm,
            meter: composition.meter,
            key: composition.key,
            length,
            notes,
            programs,
            layers: composition.layers.iter().map(|r| r.layer).collect(),
            generation: Some(composition.generation()),
            crossfade_beats: 0.0,
            mood: None,
        })
    }

    /// A fixed cue from a score the game supplied (a composer's theme, a jingle): its
    /// notes from tick 0 to the end of its last bar, at its first tempo, meter and key
    /// signature (the key is estimated from the notes when it has none).
    ///
    /// Tracks go to the session's roles by their [`Role`]; a track of another role goes
    /// to the melody when the cue has no melody track, else to the chords.
    pub(crate) fn cue(id: u64, name: String, score: &Score) -> Result<Self, DirectorError> {
        let bad = |reason: String| DirectorError::InvalidPhrase { id, reason };
        score
            .validate()
            .map_err(|e| bad(format!("the cue is not a valid score: {e}")))?;
        let score = score.at_resolution(PPQ);
        if score.note_count() == 0 {
            return Err(bad("the cue has no notes".to_owned()));
        }
        let bpm = score.tempos.first().map_or(120.0, TempoChange::bpm);
        if score.tempos.iter().any(|t| (t.bpm() - bpm).abs() > 1e-6) {
            return Err(bad(
                "the cue changes tempo; a cue keeps one tempo".to_owned()
            ));
        }
        let meter = score
            .time_signatures
            .first()
            .map_or(Meter::COMMON, |t| Meter {
                numerator: t.numerator,
                denominator: t.denominator,
            });
        if score
            .time_signatures
            .iter()
            .any(|t| (t.numerator, t.denominator) != (meter.numerator, meter.denominator))
        {
            return Err(bad(
                "the cue changes meter; a cue keeps one meter".to_owned()
            ));
        }
        crate::clock::check_bpm(bpm).map_err(|e| bad(e.to_string()))?;
        crate::clock::check_meter(meter).map_err(|e| bad(e.to_string()))?;
        let key = match score.key_signatures.first() {
            Some(k) => Key::from_key_signature(k.sharps, k.minor)
                .map_err(|e| bad(format!("the cue's key signature: {e}")))?,
            None => leitmotif_tokens::controls::estimated_key(&score)
                .unwrap_or(Key::major(leitmotif_score::theory::PitchClass::C)),
        };
        let bar = meter.ticks_per_bar(PPQ);
        let end = score.end_tick.max(score.last_note_end());
        let length = end.div_ceil(bar).max(1) * bar;
        let has_melody = score.tracks.iter().any(|t| t.role == Role::Melody);
        let mut notes: [Vec<Note>; 4] = Default::default();
        let mut programs = [None; 4];
        for track in &score.tracks {
            let role = match track.role {
                Role::Other if has_melody => Role::Chords,
                Role::Other => Role::Melody,
                role => role,
            };
            let Some(slot) = ROLES.iter().position(|r| *r == role) else {
                continue;
            };
            programs[slot].get_or_insert(track.program);
            notes[slot].extend(track.notes.iter().copied());
        }
        for slot in &mut notes {
            slot.sort_by_key(|n| (n.start, n.pitch));
        }
        let layers = ROLES
            .iter()
            .zip(&notes)
            .filter(|(_, notes)| !notes.is_empty())
            .filter_map(|(role, _)| layer_of_role(*role))
            .collect();
        Ok(Self {
            id,
            state: name,
            bpm,
            meter,
            key: key.into(),
            length,
            notes,
            programs,
            layers,
            generation: None,
            crossfade_beats: 0.0,
            mood: None,
        })
    }

    /// The phrase alone from tick 0: its tempo, meter, key, a marker with its state, and its
    /// notes, one track per role.
    pub(crate) fn score(&self) -> Score {
        let mut score = Score::new(PPQ);
        score.name.clone_from(&self.state);
        score.end_tick = self.length;
        score.tempos = TempoChange::from_bpm(0, self.bpm).into_iter().collect();
        score.time_signatures = vec![time_signature(0, self.meter)];
        score.key_signatures = vec![key_signature(0, self.key)];
        score.markers = vec![Marker {
            tick: 0,
            text: self.state.clone(),
        }];
        for (slot, notes) in self.notes.iter().enumerate() {
            if let Some(program) = self.programs[slot] {
                let mut track = role_track(slot, Some(program));
                track.notes.clone_from(notes);
                score.tracks.push(track);
            }
        }
        score.normalize();
        score
    }
}

/// A phrase placed on the timeline: it plays from `start` until `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Index into [`Timeline::phrases`].
    pub phrase: usize,
    /// Where it starts.
    pub start: u64,
    /// Where it stops: its full end, or where the next placement cut it.
    pub end: u64,
    /// Its full end.
    pub full_end: u64,
    /// 0 for the phrase's first play, then 1, 2... for each repeat.
    pub repeat: u32,
}

/// The end of a placement moved onto a pivot chord that prepares the key of the music
/// after it (see the `seam` module): its bass and chord notes starting in `from..to`
/// sound the chord's tones instead of their own, and those held into `from` from before
/// stop there and sound again on the chord.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pivot {
    /// The first tick re-harmonised (a beat line).
    pub from: u64,
    /// The seam: the tick after the last re-harmonised one.
    pub to: u64,
    /// The chord.
    pub chord: Chord,
    /// The notes moved, sorted by slot and index.
    pub moved: Vec<Move>,
}

/// A bass or chord note a [`Pivot`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Move {
    /// Its layer's slot.
    pub slot: usize,
    /// Its index among its phrase's notes of that layer.
    pub index: usize,
    /// Where it starts, in session ticks.
    pub start: u64,
    /// Its new pitch.
    pub pitch: u8,
    /// Whether it started before the pivot: it then stops at the pivot's `from` and a
    /// second note sounds the new pitch from there to its end.
    pub held: bool,
}

impl Pivot {
    /// How note `index` of slot `slot` moves, if it does.
    pub(crate) fn get(&self, slot: usize, index: usize) -> Option<&Move> {
        self.moved
            .binary_search_by(|m| (m.slot, m.index).cmp(&(slot, index)))
            .ok()
            .map(|k| &self.moved[k])
    }

    /// Keeps only what was moved before `tick` (the music after it goes back to its own
    /// harmony); `false` when nothing is left.
    pub(crate) fn keep_before(&mut self, tick: u64) -> bool {
        let from = self.from;
        self.to = self.to.min(tick);
        self.moved
            .retain(|m| if m.held { from < tick } else { m.start < tick });
        self.from < self.to
    }

    /// The notes `n` (note `index` of slot `slot`, its start at `start` in session ticks)
    /// sounds as under the pivot: itself, or itself moved, or itself stopped at `from`
    /// and its continuation on the new pitch.
    pub(crate) fn apply(
        pivot: Option<&Pivot>,
        slot: usize,
        index: usize,
        start: u64,
        n: &Note,
    ) -> (Note, Option<Note>) {
        match pivot.and_then(|pv| pv.get(slot, index).map(|m| (pv.from, m))) {
            Some((from, m)) if m.held && from > start && from < start + n.duration => (
                Note {
                    duration: from - start,
                    ..*n
                },
                Some(Note {
                    start: n.start + (from - start),
                    duration: start + n.duration - from,
                    pitch: m.pitch,
                    ..*n
                }),
            ),
            Some((_, m)) if !m.held => (
                Note {
                    pitch: m.pitch,
                    ..*n
                },
                None,
            ),
            _ => (*n, None),
        }
    }
}

/// A stinger laid over the music from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overlay {
    /// Index into [`Timeline::phrases`].
    pub phrase: usize,
    /// Where it starts.
    pub start: u64,
}

/// Every delivered phrase and where it goes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline {
    /// Phrases in delivery order.
    pub phrases: Vec<Phrase>,
    /// Placements, sorted by start, back to back.
    pub placements: Vec<Placement>,
    /// Stingers, sorted by start.
    pub overlays: Vec<Overlay>,
    /// Pivots, by the start of the placement they re-harmonise.
    pub pivots: BTreeMap<u64, Pivot>,
}

/// What [`Timeline::render`] includes besides the phrases' notes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Render {
    /// State markers where a state's music begins.
    pub markers: bool,
    /// The stinger track.
    pub stingers: bool,
}

impl Timeline {
    /// Where the scheduled music ends (0 when there is none).
    pub(crate) fn end(&self) -> u64 {
        self.placements.last().map_or(0, |p| p.end)
    }

    /// The index of the placement sounding at `tick`.
    pub(crate) fn index_at(&self, tick: u64) -> Option<usize> {
        self.placements
            .iter()
            .position(|p| p.start <= tick && tick < p.end)
    }

    /// Places phrase `phrase` at `start`: the placement sounding there is cut, any placed
    /// after dropped.
    pub(crate) fn place(&mut self, phrase: usize, start: u64, repeat: u32) {
        self.drop_from(start);
        if let Some(last) = self.placements.last_mut() {
            last.end = last.end.min(start);
        }
        let length = self.phrases.get(phrase).map_or(0, |p| p.length);
        self.placements.push(Placement {
            phrase,
            start,
            end: start + length,
            full_end: start + length,
            repeat,
        });
    }

    /// Adds `phrase` and lays it over the music from `start`.
    pub(crate) fn overlay(&mut self, phrase: Phrase, start: u64) {
        self.phrases.push(phrase);
        let overlay = Overlay {
            phrase: self.phrases.len() - 1,
            start,
        };
        let at = self.overlays.partition_point(|o| o.start <= start);
        self.overlays.insert(at, overlay);
    }

    /// Drops every placement starting at or after `tick`; the one left last plays in full.
    pub(crate) fn drop_from(&mut self, tick: u64) {
        self.placements.retain(|p| p.start < tick);
        self.pivots.retain(|&start, _| start < tick);
        if let Some(last) = self.placements.last_mut() {
            last.end = last.full_end;
        }
    }

    /// The music of `lo..hi` from tick 0: notes starting there (cut where their placement
    /// was cut and at `hi`), tempo, meter and key from the clock and phrases, one track per
    /// role in [`ROLES`] order, then the stingers' track.
    pub(crate) fn render(&self, clock: &MusicClock, lo: u64, hi: u64, what: Render) -> Score {
        let mut score = Score::new(PPQ);
        score.end_tick = hi.saturating_sub(lo);
        let mut tracks: [Option<Track>; 4] = Default::default();
        let mut previous: Option<(&Phrase, f64, Meter)> = None;
        for p in self
            .placements
            .iter()
            .filter(|p| p.start < hi && p.end > lo)
        {
            let Some(phrase) = self.phrases.get(p.phrase) else {
                continue;
            };
            let at = p.start.max(lo) - lo;
            let segment = clock.segment_at(p.start.max(lo));
            let (bpm, meter) = (segment.bpm, segment.meter);
            if previous.is_none_or(|(_, b, _)| (b - bpm).abs() > 1e-9)
                && let Ok(tempo) = TempoChange::from_bpm(at, bpm)
            {
                score.tempos.push(tempo);
            }
            if previous.is_none_or(|(_, _, m)| m != meter) || (at > 0 && segment.restart) {
                score.time_signatures.push(time_signature(at, meter));
            }
            if previous.is_none_or(|(ph, _, _)| ph.key != phrase.key) {
                score.key_signatures.push(key_signature(at, phrase.key));
            }
            if what.markers && previous.is_none_or(|(ph, _, _)| ph.state != phrase.state) {
                score.markers.push(Marker {
                    tick: at,
                    text: phrase.state.clone(),
                });
            }
            let stop = p.end.min(hi);
            // Tempo steps inside the placement (a ramp into a new mood's tempo).
            let mut last_bpm = bpm;
            for step in clock
                .segments()
                .iter()
                .filter(|s| s.tick > p.start.max(lo) && s.tick < stop)
            {
                if (step.bpm - last_bpm).abs() > 1e-9
                    && let Ok(tempo) = TempoChange::from_bpm(step.tick - lo, step.bpm)
                {
                    score.tempos.push(tempo);
                    last_bpm = step.bpm;
                }
            }
            previous = Some((phrase, last_bpm, meter));
            let pivot = self.pivots.get(&p.start);
            for (slot, notes) in phrase.notes.iter().enumerate() {
                let played = notes
                    .iter()
                    .enumerate()
                    .flat_map(|(index, n)| {
                        let (n, again) = Pivot::apply(pivot, slot, index, p.start + n.start, n);
                        std::iter::once(n).chain(again)
                    })
                    .filter_map(|n| {
                        let start = p.start + n.start;
                        let end = (start + n.duration).min(stop);
                        (start >= lo && start < stop && end > start).then(|| Note {
                            start: start - lo,
                            duration: end - start,
                            ..n
                        })
                    });
                let mut played = played.peekable();
                if played.peek().is_some() {
                    tracks[slot]
                        .get_or_insert_with(|| role_track(slot, phrase.programs[slot]))
                        .notes
                        .extend(played);
                }
            }
        }
        score.tracks = tracks.into_iter().flatten().collect();
        if what.stingers {
            let (name, channel, program) = STINGER_TRACK;
            let mut stingers = Track::new(name, Role::Other, program, channel);
            for o in self.overlays.iter().filter(|o| o.start < hi) {
                let Some(phrase) = self.phrases.get(o.phrase) else {
                    continue;
                };
                for n in phrase.notes.iter().flatten() {
                    let start = o.start + n.start;
                    let end = (start + n.duration).min(hi);
                    if start >= lo && end > start {
                        stingers.notes.push(Note {
                            start: start - lo,
                            duration: end - start,
                            ..*n
                        });
                    }
                }
            }
            if !stingers.notes.is_empty() {
                score.tracks.push(stingers);
            }
        }
        score.normalize();
        score
    }
}

/// An empty track for role slot `slot`, named, numbered and voiced as the composer does.
fn role_track(slot: usize, program: Option<u8>) -> Track {
    let role = ROLES.get(slot).copied().unwrap_or(Role::Melody);
    let layer = layer_of_role(role).unwrap_or(Layer::Melody);
    let (name, default_program, channel) = layer.track_defaults();
    Track::new(name, role, program.unwrap_or(default_program), channel)
}

fn time_signature(tick: u64, meter: Meter) -> leitmotif_score::TimeSignatureChange {
    leitmotif_score::TimeSignatureChange {
        tick,
        numerator: meter.numerator,
        denominator: meter.denominator,
    }
}

/// The key signature a scale is written with (minor modes as their minor key).
fn key_signature(tick: u64, scale: Scale) -> KeySignatureChange {
    let key = if scale.mode.is_minor() {
        Key::minor(scale.tonic)
    } else {
        Key::major(scale.tonic)
    };
    let (sharps, minor) = key.key_signature();
    KeySignatureChange {
        tick,
        sharps,
        minor,
    }
}
