//! Standard MIDI Files in and out.
//!
//! Reading accepts SMF format 0 and 1 at any tick resolution: running status, several tempo
//! changes, many tracks and channels, note-on with velocity 0 as note-off, overlapping notes
//! of the same pitch (paired first-in, first-out, as @tonejs/midi does), and notes that are
//! never released (closed at the end of their track). Each (MIDI track, channel) pair that
//! plays notes or sets a program becomes one [`Track`].
//!
//! Writing produces what Unreal Engine's Harmonix importer and Unity's `DryWetMIDI` expect:
//! SMF format 1 at 480 ticks per quarter note; track 0 is the conductor (name, time and key
//! signatures, tempos, markers), then one named track per [`Track`] with its program change;
//! every track closes with End-of-Track at the score's `end_tick`.

use std::collections::{BTreeMap, VecDeque};

use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Timing, TrackEvent, TrackEventKind};

use crate::error::MidiError;
use crate::score::{
    DEFAULT_PPQ, KeySignatureChange, MAX_QUARTERS, Marker, Note, Role, Score, TempoChange,
    TimeSignatureChange, Track,
};

/// Reads a Standard MIDI File into a [`Score`] at the file's own resolution.
///
/// Memory use is bounded by the input's size: nothing is allocated from a count the file
/// declares without the bytes to back it.
///
/// # Errors
/// A [`MidiError`] naming what is wrong: empty or truncated input, a wrong magic number,
/// a chunk longer than the file, SMPTE or zero division, format 2, malformed events,
/// impossible meta values, or delta times past [`MAX_QUARTERS`].
pub fn read_midi(bytes: &[u8]) -> Result<Score, MidiError> {
    let ppq = check_structure(bytes)?;
    let (header, tracks) = midly::parse(bytes).map_err(|e| MidiError::Malformed {
        track: 0,
        reason: e.to_string(),
    })?;
    debug_assert!(matches!(header.timing, Timing::Metrical(t) if t.as_int() == ppq));
    let mut score = Score::new(ppq);
    let max_tick = MAX_QUARTERS * u64::from(ppq);
    for (index, events) in tracks.enumerate() {
        let malformed = |e: midly::Error| MidiError::Malformed {
            track: index,
            reason: e.to_string(),
        };
        let mut reader = TrackReader::new(index, max_tick);
        for event in events.map_err(malformed)? {
            reader.event(&event.map_err(malformed)?, &mut score)?;
        }
        let name = reader.name.clone().unwrap_or_default();
        if index == 0 {
            score.name.clone_from(&name);
        }
        score.end_tick = score.end_tick.max(reader.end);
        score.tracks.extend(reader.finish(&name));
    }
    score.normalize();
    Ok(score)
}

/// Walks the chunk structure before parsing, so that broken files get precise errors.
/// Returns the resolution in ticks per quarter note.
fn check_structure(bytes: &[u8]) -> Result<u16, MidiError> {
    if bytes.is_empty() {
        return Err(MidiError::Empty);
    }
    let bytes = if bytes.starts_with(b"RIFF") {
        riff_payload(bytes)?
    } else {
        bytes
    };
    if bytes.len() < 4 && b"MThd".starts_with(bytes) {
        return Err(MidiError::Truncated {
            what: "header",
            offset: 0,
            len: bytes.len(),
        });
    }
    if !bytes.starts_with(b"MThd") {
        let found = bytes
            .iter()
            .take(4)
            .flat_map(|b| b.escape_ascii())
            .map(char::from);
        return Err(MidiError::NotMidi {
            found: found.collect(),
        });
    }
    let len = bytes.len();
    let mut offset = 0;
    let mut index = 0;
    let mut ppq = 0;
    let mut declared_tracks = 0;
    let mut found_tracks = 0;
    while offset < len {
        let Some(head) = bytes.get(offset..offset + 8) else {
            return Err(MidiError::Truncated {
                what: "chunk header",
                offset,
                len,
            });
        };
        let declared = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let available = len - offset - 8;
        if declared as usize > available {
            return Err(MidiError::ChunkPastEnd {
                index,
                offset,
                declared,
                available,
            });
        }
        let body = &bytes[offset + 8..offset + 8 + declared as usize];
        if index == 0 {
            if declared < 6 {
                return Err(MidiError::HeaderTooShort(declared));
            }
            let format = u16::from_be_bytes([body[0], body[1]]);
            declared_tracks = u16::from_be_bytes([body[2], body[3]]);
            let division = u16::from_be_bytes([body[4], body[5]]);
            if format > 1 {
                return Err(MidiError::UnsupportedFormat(format));
            }
            if division & 0x8000 != 0 {
                return Err(MidiError::SmpteTiming);
            }
            if division == 0 {
                return Err(MidiError::ZeroPpq);
            }
            ppq = division;
        } else if &head[..4] == b"MTrk" {
            found_tracks += 1;
        } else if &head[..4] == b"MThd" {
            return Err(MidiError::Malformed {
                track: found_tracks,
                reason: format!("a second header chunk at byte {offset}"),
            });
        }
        offset += 8 + declared as usize;
        index += 1;
    }
    if usize::from(declared_tracks) != found_tracks {
        return Err(MidiError::TrackCount {
            declared: declared_tracks,
            found: found_tracks,
        });
    }
    Ok(ppq)
}

/// The MIDI data inside an RMID (RIFF) wrapper.
fn riff_payload(bytes: &[u8]) -> Result<&[u8], MidiError> {
    let truncated = MidiError::Truncated {
        what: "RIFF wrapper",
        offset: 0,
        len: bytes.len(),
    };
    let mut offset = 12;
    if bytes.get(8..12) != Some(b"RMID".as_slice()) {
        return Err(MidiError::NotMidi {
            found: "RIFF without an RMID form".to_owned(),
        });
    }
    while let Some(head) = bytes.get(offset..offset + 8) {
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let body = bytes
            .get(offset + 8..offset + 8 + size)
            .ok_or(truncated.clone())?;
        if &head[..4] == b"data" {
            return Ok(body);
        }
        offset += 8 + size + (size & 1);
    }
    Err(truncated)
}

/// Reading state for one MIDI track.
struct TrackReader {
    index: usize,
    max_tick: u64,
    tick: u64,
    end: u64,
    name: Option<String>,
    /// Per channel: program, notes, and the order the channel first appeared in.
    channels: BTreeMap<u8, ChannelState>,
    open: BTreeMap<(u8, u8), VecDeque<(u64, u8)>>,
}

#[derive(Default)]
struct ChannelState {
    first_seen: usize,
    program: Option<u8>,
    notes: Vec<Note>,
}

impl TrackReader {
    fn new(index: usize, max_tick: u64) -> Self {
        Self {
            index,
            max_tick,
            tick: 0,
            end: 0,
            name: None,
            channels: BTreeMap::new(),
            open: BTreeMap::new(),
        }
    }

    fn bad(&self, reason: String) -> MidiError {
        MidiError::BadEvent {
            track: self.index,
            tick: self.tick,
            reason,
        }
    }

    fn channel(&mut self, channel: u8) -> &mut ChannelState {
        let order = self.channels.len();
        self.channels
            .entry(channel)
            .or_insert_with(|| ChannelState {
                first_seen: order,
                ..ChannelState::default()
            })
    }

    fn event(&mut self, event: &TrackEvent<'_>, score: &mut Score) -> Result<(), MidiError> {
        self.tick += u64::from(event.delta.as_int());
        if self.tick > self.max_tick {
            return Err(MidiError::TooLong {
                track: self.index,
                tick: self.tick,
                max: self.max_tick,
            });
        }
        self.end = self.end.max(self.tick);
        let tick = self.tick;
        match event.kind {
            TrackEventKind::Midi { channel, message } => {
                let channel = channel.as_int();
                match message {
                    MidiMessage::NoteOn { key, vel } if vel > 0 => {
                        self.channel(channel);
                        let queue = self.open.entry((channel, key.as_int())).or_default();
                        queue.push_back((tick, vel.as_int()));
                    }
                    MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                        self.release(channel, key.as_int());
                    }
                    MidiMessage::ProgramChange { program } => {
                        let state = self.channel(channel);
                        state.program.get_or_insert(program.as_int());
                    }
                    _ => {}
                }
            }
            TrackEventKind::Meta(meta) => self.meta(meta, score)?,
            TrackEventKind::SysEx(_) | TrackEventKind::Escape(_) => {}
        }
        Ok(())
    }

    fn release(&mut self, channel: u8, pitch: u8) {
        let Some((start, velocity)) = self
            .open
            .get_mut(&(channel, pitch))
            .and_then(VecDeque::pop_front)
        else {
            return; // A note-off with no note sounding: nothing to end.
        };
        let note = Note {
            start,
            duration: self.tick - start,
            pitch,
            velocity,
        };
        self.channel(channel).notes.push(note);
    }

    fn meta(&mut self, meta: MetaMessage<'_>, score: &mut Score) -> Result<(), MidiError> {
        let tick = self.tick;
        match meta {
            MetaMessage::TrackName(name) if self.name.is_none() => {
                self.name = Some(String::from_utf8_lossy(name).into_owned());
            }
            MetaMessage::Tempo(micros) => {
                let micros_per_quarter = micros.as_int();
                if micros_per_quarter == 0 {
                    return Err(self.bad("tempo of 0 microseconds per quarter note".to_owned()));
                }
                score.tempos.push(TempoChange {
                    tick,
                    micros_per_quarter,
                });
            }
            MetaMessage::TimeSignature(numerator, power, _, _) => {
                if numerator == 0 || power > 6 {
                    return Err(self.bad(format!(
                        "time signature {numerator}/2^{power} (numerator must be at least 1, \
                         denominator at most 64)"
                    )));
                }
                score.time_signatures.push(TimeSignatureChange {
                    tick,
                    numerator,
                    denominator: 1 << power,
                });
            }
            MetaMessage::KeySignature(sharps, minor) => {
                if !(-7..=7).contains(&sharps) {
                    return Err(self.bad(format!("key signature with {sharps} sharps")));
                }
                score.key_signatures.push(KeySignatureChange {
                    tick,
                    sharps,
                    minor,
                });
            }
            MetaMessage::Marker(text) => score.markers.push(Marker {
                tick,
                text: String::from_utf8_lossy(text).into_owned(),
            }),
            _ => {}
        }
        Ok(())
    }

    /// Closes notes still sounding at the track's end and returns one track per channel.
    fn finish(mut self, name: &str) -> Vec<Track> {
        let end = self.end;
        for ((channel, pitch), queue) in std::mem::take(&mut self.open) {
            for (start, velocity) in queue {
                self.channel(channel).notes.push(Note {
                    start,
                    duration: end - start,
                    pitch,
                    velocity,
                });
            }
        }
        let mut channels: Vec<_> = self.channels.into_iter().collect();
        channels.sort_by_key(|(_, state)| state.first_seen);
        channels
            .into_iter()
            .map(|(channel, state)| {
                let mut track = Track {
                    name: name.to_owned(),
                    role: Role::infer(name, channel),
                    program: state.program.unwrap_or(0),
                    channel,
                    notes: state.notes,
                };
                track.sort_notes();
                track
            })
            .collect()
    }
}

/// Writes `score` as an SMF format 1 file at 480 ticks per quarter note.
///
/// A score at another resolution is rescaled first (see [`Score::rescaled`]).
///
/// # Errors
/// [`MidiError::InvalidScore`] if the score breaks a rule of [`Score::validate`].
pub fn write_midi(score: &Score) -> Result<Vec<u8>, MidiError> {
    score.validate()?;
    let score = score.at_resolution(DEFAULT_PPQ);
    let score = score.as_ref();
    let mut tracks = Vec::with_capacity(score.tracks.len() + 1);
    tracks.push(conductor_events(score));
    for track in &score.tracks {
        tracks.push(track_events(track, score.end_tick));
    }
    let header = Header::new(Format::Parallel, Timing::Metrical(u15::new(DEFAULT_PPQ)));
    let mut out = Vec::new();
    midly::write_std(&header, tracks.iter(), &mut out)
        .map_err(|e| MidiError::Encode(e.to_string()))?;
    Ok(out)
}

/// Absolute-tick events, ordered by (tick, rank, insertion order) before delta encoding.
struct Timeline<'a> {
    events: Vec<(u64, u8, TrackEventKind<'a>)>,
}

impl<'a> Timeline<'a> {
    fn new(name: &'a str) -> Self {
        let mut events = Vec::new();
        if !name.is_empty() {
            events.push((
                0,
                0,
                TrackEventKind::Meta(MetaMessage::TrackName(name.as_bytes())),
            ));
        }
        Self { events }
    }

    fn push(&mut self, tick: u64, rank: u8, kind: TrackEventKind<'a>) {
        self.events.push((tick, rank, kind));
    }

    fn finish(mut self, end_tick: u64) -> Vec<TrackEvent<'a>> {
        self.events.sort_by_key(|(tick, rank, _)| (*tick, *rank));
        self.events.push((
            end_tick,
            u8::MAX,
            TrackEventKind::Meta(MetaMessage::EndOfTrack),
        ));
        let mut last = 0;
        self.events
            .into_iter()
            .map(|(tick, _, kind)| {
                // Ticks are bounded by MAX_QUARTERS * 480, below u28's range.
                let delta = u28::new(u32::try_from(tick - last).unwrap_or(u32::MAX));
                last = tick;
                TrackEvent { delta, kind }
            })
            .collect()
    }
}

fn conductor_events(score: &Score) -> Vec<TrackEvent<'_>> {
    let mut timeline = Timeline::new(&score.name);
    for ts in &score.time_signatures {
        let power = u8::try_from(ts.denominator.trailing_zeros()).unwrap_or(2);
        let meta = MetaMessage::TimeSignature(ts.numerator, power, 24, 8);
        timeline.push(ts.tick, 1, TrackEventKind::Meta(meta));
    }
    for ks in &score.key_signatures {
        let meta = MetaMessage::KeySignature(ks.sharps, ks.minor);
        timeline.push(ks.tick, 2, TrackEventKind::Meta(meta));
    }
    for t in &score.tempos {
        let meta = MetaMessage::Tempo(u24::new(t.micros_per_quarter));
        timeline.push(t.tick, 3, TrackEventKind::Meta(meta));
    }
    for m in &score.markers {
        let meta = MetaMessage::Marker(m.text.as_bytes());
        timeline.push(m.tick, 4, TrackEventKind::Meta(meta));
    }
    timeline.finish(score.end_tick)
}

fn track_events(track: &Track, end_tick: u64) -> Vec<TrackEvent<'_>> {
    let channel = u4::new(track.channel);
    let mut timeline = Timeline::new(&track.name);
    let program = MidiMessage::ProgramChange {
        program: u7::new(track.program),
    };
    timeline.push(
        0,
        1,
        TrackEventKind::Midi {
            channel,
            message: program,
        },
    );
    for note in &track.notes {
        let key = u7::new(note.pitch);
        let on = MidiMessage::NoteOn {
            key,
            vel: u7::new(note.velocity),
        };
        let off = MidiMessage::NoteOff {
            key,
            vel: u7::new(0),
        };
        // At one tick: earlier notes end (rank 2), then notes start (3), then notes of zero
        // length end (4), so first-in-first-out pairing gives every note back unchanged.
        let off_rank = if note.duration == 0 { 4 } else { 2 };
        timeline.push(
            note.start,
            3,
            TrackEventKind::Midi {
                channel,
                message: on,
            },
        );
        timeline.push(
            note.end(),
            off_rank,
            TrackEventKind::Midi {
                channel,
                message: off,
            },
        );
    }
    timeline.finish(end_tick)
}

impl Score {
    /// This score at `ppq`: borrowed when it is already there, rescaled otherwise.
    pub fn at_resolution(&self, ppq: u16) -> std::borrow::Cow<'_, Score> {
        if self.ppq == ppq {
            std::borrow::Cow::Borrowed(self)
        } else {
            std::borrow::Cow::Owned(self.rescaled(ppq))
        }
    }

    /// This score at another resolution: every tick is scaled and rounded to the nearest
    /// tick, and note lengths are taken between rounded ends, so no time moves by more
    /// than half a tick.
    pub fn rescaled(&self, ppq: u16) -> Score {
        let from = u128::from(self.ppq.max(1));
        let to = u128::from(ppq);
        let scale = |tick: u64| -> u64 {
            let scaled = (u128::from(tick) * to * 2 + from) / (from * 2);
            u64::try_from(scaled).unwrap_or(u64::MAX)
        };
        let mut out = self.clone();
        out.ppq = ppq;
        out.end_tick = scale(self.end_tick);
        out.tempos.iter_mut().for_each(|t| t.tick = scale(t.tick));
        out.time_signatures
            .iter_mut()
            .for_each(|t| t.tick = scale(t.tick));
        out.key_signatures
            .iter_mut()
            .for_each(|k| k.tick = scale(k.tick));
        out.markers.iter_mut().for_each(|m| m.tick = scale(m.tick));
        for track in &mut out.tracks {
            for note in &mut track.notes {
                let end = scale(note.end());
                note.start = scale(note.start);
                note.duration = end - note.start;
            }
            track.sort_notes();
        }
        out
    }
}
