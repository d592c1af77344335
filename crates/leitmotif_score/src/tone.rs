//! `*.tone.json`: the JSON shape of @tonejs/midi's `Midi.toJSON()`, for web players and
//! JavaScript engines.
//!
//! [`to_tone_json`] writes, field for field, what `new Midi(bytes).toJSON()` returns for the
//! `.mid` that [`crate::midi::write_midi`] writes from the same score, including that
//! library's conventions: the conductor track is left out, a track with no notes reports
//! channel 0, key names come from the sharps count alone, text is read byte by byte
//! (Latin-1), and seconds before the first tempo change follow its two rules (120 bpm for
//! notes, the first tempo for the tempo list). [`from_tone_json`] reads that shape back,
//! taking ticks as authoritative, as `Midi.fromJSON` does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DocumentError;
use crate::score::{
    DEFAULT_PPQ, KeySignatureChange, Marker, Note, Role, Score, TempoChange, TimeSignatureChange,
    Track,
};

/// Key names by `sharps + 7`, as @tonejs/midi spells them (major-key names for both modes).
const KEY_NAMES: [&str; 15] = [
    "Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#",
];

/// Note names by pitch class, sharps only.
const NOTE_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// `Midi.toJSON()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneMidi {
    /// Timing and conductor data.
    pub header: ToneHeader,
    /// The parts.
    pub tracks: Vec<ToneTrack>,
}

/// `Header.toJSON()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToneHeader {
    /// Key signatures in file order.
    pub key_signatures: Vec<ToneKeySignature>,
    /// Text, marker, cue-point and lyric events of the first track.
    pub meta: Vec<ToneMeta>,
    /// The first track's name.
    pub name: String,
    /// Ticks per quarter note.
    pub ppq: u16,
    /// Tempo changes, sorted by tick.
    pub tempos: Vec<ToneTempo>,
    /// Time signatures, sorted by tick.
    pub time_signatures: Vec<ToneTimeSignature>,
}

/// A key signature entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneKeySignature {
    /// The major key with this many sharps or flats ("C", "F#", "Bb", ...).
    pub key: String,
    /// `"major"` or `"minor"`.
    pub scale: String,
    /// Position.
    pub ticks: u64,
}

/// A meta text entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneMeta {
    /// The text, one character per byte.
    pub text: String,
    /// Position.
    pub ticks: u64,
    /// `"marker"`, `"text"`, `"cuePoint"` or `"lyrics"`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A tempo entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneTempo {
    /// Quarter notes per minute.
    pub bpm: f64,
    /// Position.
    pub ticks: u64,
}

/// A time-signature entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToneTimeSignature {
    /// Position.
    pub ticks: u64,
    /// `[numerator, denominator]`.
    pub time_signature: [u8; 2],
    /// Bars before this change (fractional when a change falls inside a bar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<f64>,
}

/// `Track.toJSON()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToneTrack {
    /// MIDI channel 0..=15 of the last note (0 for a track without notes).
    pub channel: u8,
    /// Controller events keyed by controller number (Leitmotif writes none).
    pub control_changes: BTreeMap<String, Vec<serde_json::Value>>,
    /// Pitch bends (Leitmotif writes none).
    pub pitch_bends: Vec<serde_json::Value>,
    /// The instrument.
    pub instrument: ToneInstrument,
    /// The track's name.
    pub name: String,
    /// Notes sorted by start.
    pub notes: Vec<ToneNote>,
    /// Where the track's End-of-Track event stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_track_ticks: Option<u64>,
}

/// `Instrument.toJSON()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneInstrument {
    /// The General MIDI family ("piano", "bass", ... or "drums" on channel 9).
    pub family: String,
    /// The General MIDI program.
    pub number: u8,
    /// The instrument's name (drum kits have names only for the standard kit programs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `Note.toJSON()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToneNote {
    /// Length in seconds.
    pub duration: f64,
    /// Length in ticks.
    pub duration_ticks: u64,
    /// MIDI pitch.
    pub midi: u8,
    /// Pitch name such as "C4" or "F#5".
    pub name: String,
    /// Start in ticks.
    pub ticks: u64,
    /// Start in seconds.
    pub time: f64,
    /// Velocity as a fraction, MIDI velocity / 127.
    pub velocity: f64,
}

/// The `.tone.json` text of `score`, as @tonejs/midi reports the `.mid` Leitmotif writes.
///
/// # Errors
/// [`DocumentError::InvalidScore`] if the score is not valid.
pub fn to_tone_json(score: &Score) -> Result<String, DocumentError> {
    let midi = ToneMidi::from_score(score)?;
    serde_json::to_string_pretty(&midi).map_err(|e| DocumentError::Value(e.to_string()))
}

/// Reads a `.tone.json` document into a score.
///
/// # Errors
/// [`DocumentError`] for malformed JSON, fields outside the `Midi.toJSON()` shape, values a
/// score cannot hold, or a resulting score that is not valid.
pub fn from_tone_json(text: &str) -> Result<Score, DocumentError> {
    let midi: ToneMidi = serde_json::from_str(text).map_err(|e| DocumentError::Syntax {
        format: "tone JSON",
        message: e.to_string(),
    })?;
    midi.to_score()
}

impl ToneMidi {
    /// What @tonejs/midi's `toJSON()` reports for the `.mid` written from `score`.
    ///
    /// # Errors
    /// [`DocumentError::InvalidScore`] if the score is not valid.
    pub fn from_score(score: &Score) -> Result<Self, DocumentError> {
        score.validate()?;
        let score = score.at_resolution(DEFAULT_PPQ);
        let score = score.as_ref();
        let clock = ToneClock::new(score);
        let header = ToneHeader {
            key_signatures: score
                .key_signatures
                .iter()
                .map(|k| ToneKeySignature {
                    key: KEY_NAMES[usize::try_from(k.sharps + 7).unwrap_or(7)].to_owned(),
                    scale: if k.minor { "minor" } else { "major" }.to_owned(),
                    ticks: k.tick,
                })
                .collect(),
            meta: score
                .markers
                .iter()
                .map(|m| ToneMeta {
                    text: latin1(&m.text),
                    ticks: m.tick,
                    kind: "marker".to_owned(),
                })
                .collect(),
            name: latin1(&score.name),
            ppq: score.ppq,
            tempos: score
                .tempos
                .iter()
                .map(|t| ToneTempo {
                    bpm: t.bpm(),
                    ticks: t.tick,
                })
                .collect(),
            time_signatures: time_signatures(score),
        };
        let tracks = score
            .tracks
            .iter()
            .map(|track| {
                let channel = if track.notes.is_empty() {
                    0
                } else {
                    track.channel
                };
                ToneTrack {
                    channel,
                    control_changes: BTreeMap::new(),
                    pitch_bends: Vec::new(),
                    instrument: instrument(track.program, channel == crate::DRUM_CHANNEL),
                    name: latin1(&track.name),
                    notes: track.notes.iter().map(|n| clock.note(n)).collect(),
                    end_of_track_ticks: Some(score.end_tick),
                }
            })
            .collect();
        Ok(Self { header, tracks })
    }

    /// The score this document describes (ticks are authoritative; seconds are ignored).
    ///
    /// # Errors
    /// [`DocumentError`] for values a score cannot hold or an invalid resulting score.
    pub fn to_score(&self) -> Result<Score, DocumentError> {
        let h = &self.header;
        let mut score = Score::new(h.ppq);
        score.name = from_latin1(&h.name);
        for t in &h.tempos {
            let change = TempoChange::from_bpm(t.ticks, t.bpm)?;
            score.tempos.push(change);
        }
        for ts in &h.time_signatures {
            score.time_signatures.push(TimeSignatureChange {
                tick: ts.ticks,
                numerator: ts.time_signature[0],
                denominator: ts.time_signature[1],
            });
        }
        for k in &h.key_signatures {
            let sharps = KEY_NAMES
                .iter()
                .position(|name| *name == k.key)
                .ok_or_else(|| DocumentError::Value(format!("unknown key name {:?}", k.key)))?;
            let minor = match k.scale.as_str() {
                "major" => false,
                "minor" => true,
                other => return Err(DocumentError::Value(format!("unknown scale {other:?}"))),
            };
            score.key_signatures.push(KeySignatureChange {
                tick: k.ticks,
                sharps: i8::try_from(sharps).unwrap_or(7) - 7,
                minor,
            });
        }
        for m in h.meta.iter().filter(|m| m.kind == "marker") {
            score.markers.push(Marker {
                tick: m.ticks,
                text: from_latin1(&m.text),
            });
        }
        for (index, t) in self.tracks.iter().enumerate() {
            let mut track = Track {
                name: from_latin1(&t.name),
                role: Role::infer(&t.name, t.channel),
                program: t.instrument.number,
                channel: t.channel,
                notes: Vec::with_capacity(t.notes.len()),
            };
            for (i, n) in t.notes.iter().enumerate() {
                let velocity = (n.velocity * 127.0).round();
                if !(1.0..=127.0).contains(&velocity) {
                    return Err(DocumentError::Value(format!(
                        "track {index}, note {i}: velocity {} is not in (0, 1]",
                        n.velocity
                    )));
                }
                track.notes.push(Note {
                    start: n.ticks,
                    duration: n.duration_ticks,
                    pitch: n.midi,
                    #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
                    #[expect(clippy::cast_sign_loss, reason = "range checked above")]
                    velocity: velocity as u8,
                });
            }
            score.end_tick = score.end_tick.max(t.end_of_track_ticks.unwrap_or(0));
            score.tracks.push(track);
        }
        let max = score.max_tick();
        let last = score.last_note_end().max(score.end_tick);
        if last > max {
            return Err(crate::ScoreError::TooLong { tick: last, max }.into());
        }
        score.normalize();
        score.validate()?;
        Ok(score)
    }
}

/// Seconds as @tonejs/midi computes them.
struct ToneClock {
    ppq: f64,
    /// (ticks, bpm, seconds at ticks)
    tempos: Vec<(u64, f64, f64)>,
}

impl ToneClock {
    fn new(score: &Score) -> Self {
        let ppq = f64::from(score.ppq);
        let mut tempos: Vec<(u64, f64, f64)> = Vec::with_capacity(score.tempos.len());
        // Header.update(): each tempo's time adds the beats since the previous one at the
        // previous tempo; the first tempo's time uses its own bpm for the beats before it.
        let (mut current, mut last_beats) = (0.0, 0.0);
        for (i, t) in score.tempos.iter().enumerate() {
            let bpm = t.bpm();
            let last_bpm = if i > 0 { tempos[i - 1].1 } else { bpm };
            let beats = t.tick as f64 / ppq - last_beats;
            let time = 60.0 / last_bpm * beats + current;
            current = time;
            last_beats += beats;
            tempos.push((t.tick, bpm, time));
        }
        Self { ppq, tempos }
    }

    /// `Header.ticksToSeconds()`: the last tempo at or before `ticks`, or 120 bpm.
    fn seconds(&self, ticks: u64) -> f64 {
        let i = self.tempos.partition_point(|t| t.0 <= ticks);
        match i.checked_sub(1).map(|i| self.tempos[i]) {
            Some((at, bpm, time)) => time + 60.0 / bpm * ((ticks - at) as f64 / self.ppq),
            None => 60.0 / 120.0 * (ticks as f64 / self.ppq),
        }
    }

    fn note(&self, note: &Note) -> ToneNote {
        let time = self.seconds(note.start);
        ToneNote {
            duration: self.seconds(note.end()) - time,
            duration_ticks: note.duration,
            midi: note.pitch,
            name: note_name(note.pitch),
            ticks: note.start,
            time,
            velocity: f64::from(note.velocity) / 127.0,
        }
    }
}

/// `Header.update()`: each change's `measures` adds the bars since the previous change.
fn time_signatures(score: &Score) -> Vec<ToneTimeSignature> {
    let ppq = f64::from(score.ppq);
    let mut out: Vec<ToneTimeSignature> = Vec::with_capacity(score.time_signatures.len());
    for ts in &score.time_signatures {
        let measures = match out.last() {
            Some(last) => {
                let beats = (ts.tick - last.ticks) as f64 / ppq;
                let [num, den] = last.time_signature;
                beats / f64::from(num) / (f64::from(den) / 4.0) + last.measures.unwrap_or(0.0)
            }
            None => 0.0,
        };
        out.push(ToneTimeSignature {
            ticks: ts.tick,
            time_signature: [ts.numerator, ts.denominator],
            measures: Some(measures),
        });
    }
    out
}

/// A pitch's name as @tonejs/midi writes it: sharps, octave 4 starting at middle C.
pub fn note_name(pitch: u8) -> String {
    let octave = i32::from(pitch / 12) - 1;
    format!("{}{octave}", NOTE_NAMES[usize::from(pitch % 12)])
}

/// The General MIDI families, eight programs each.
const FAMILIES: [&str; 16] = [
    "piano",
    "chromatic percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth lead",
    "synth pad",
    "synth effects",
    "world",
    "percussive",
    "sound effects",
];

/// The General MIDI program names, spelled as @tonejs/midi spells them.
const INSTRUMENTS: [&str; 128] = [
    "acoustic grand piano",
    "bright acoustic piano",
    "electric grand piano",
    "honky-tonk piano",
    "electric piano 1",
    "electric piano 2",
    "harpsichord",
    "clavi",
    "celesta",
    "glockenspiel",
    "music box",
    "vibraphone",
    "marimba",
    "xylophone",
    "tubular bells",
    "dulcimer",
    "drawbar organ",
    "percussive organ",
    "rock organ",
    "church organ",
    "reed organ",
    "accordion",
    "harmonica",
    "tango accordion",
    "acoustic guitar (nylon)",
    "acoustic guitar (steel)",
    "electric guitar (jazz)",
    "electric guitar (clean)",
    "electric guitar (muted)",
    "overdriven guitar",
    "distortion guitar",
    "guitar harmonics",
    "acoustic bass",
    "electric bass (finger)",
    "electric bass (pick)",
    "fretless bass",
    "slap bass 1",
    "slap bass 2",
    "synth bass 1",
    "synth bass 2",
    "violin",
    "viola",
    "cello",
    "contrabass",
    "tremolo strings",
    "pizzicato strings",
    "orchestral harp",
    "timpani",
    "string ensemble 1",
    "string ensemble 2",
    "synthstrings 1",
    "synthstrings 2",
    "choir aahs",
    "voice oohs",
    "synth voice",
    "orchestra hit",
    "trumpet",
    "trombone",
    "tuba",
    "muted trumpet",
    "french horn",
    "brass section",
    "synthbrass 1",
    "synthbrass 2",
    "soprano sax",
    "alto sax",
    "tenor sax",
    "baritone sax",
    "oboe",
    "english horn",
    "bassoon",
    "clarinet",
    "piccolo",
    "flute",
    "recorder",
    "pan flute",
    "blown bottle",
    "shakuhachi",
    "whistle",
    "ocarina",
    "lead 1 (square)",
    "lead 2 (sawtooth)",
    "lead 3 (calliope)",
    "lead 4 (chiff)",
    "lead 5 (charang)",
    "lead 6 (voice)",
    "lead 7 (fifths)",
    "lead 8 (bass + lead)",
    "pad 1 (new age)",
    "pad 2 (warm)",
    "pad 3 (polysynth)",
    "pad 4 (choir)",
    "pad 5 (bowed)",
    "pad 6 (metallic)",
    "pad 7 (halo)",
    "pad 8 (sweep)",
    "fx 1 (rain)",
    "fx 2 (soundtrack)",
    "fx 3 (crystal)",
    "fx 4 (atmosphere)",
    "fx 5 (brightness)",
    "fx 6 (goblins)",
    "fx 7 (echoes)",
    "fx 8 (sci-fi)",
    "sitar",
    "banjo",
    "shamisen",
    "koto",
    "kalimba",
    "bag pipe",
    "fiddle",
    "shanai",
    "tinkle bell",
    "agogo",
    "steel drums",
    "woodblock",
    "taiko drum",
    "melodic tom",
    "synth drum",
    "reverse cymbal",
    "guitar fret noise",
    "breath noise",
    "seashore",
    "bird tweet",
    "telephone ring",
    "helicopter",
    "applause",
    "gunshot",
];

/// Drum kits by program, as @tonejs/midi names them; other programs have no name.
const DRUM_KITS: [(u8, &str); 9] = [
    (0, "standard kit"),
    (8, "room kit"),
    (16, "power kit"),
    (24, "electronic kit"),
    (25, "tr-808 kit"),
    (32, "jazz kit"),
    (40, "brush kit"),
    (48, "orchestra kit"),
    (56, "sound fx kit"),
];

/// The General MIDI name of `program` (a melodic instrument).
pub fn instrument_name(program: u8) -> &'static str {
    INSTRUMENTS[usize::from(program & 0x7F)]
}

fn instrument(program: u8, percussion: bool) -> ToneInstrument {
    if percussion {
        let name = DRUM_KITS
            .iter()
            .find(|(p, _)| *p == program)
            .map(|(_, n)| (*n).to_owned());
        ToneInstrument {
            family: "drums".to_owned(),
            number: program,
            name,
        }
    } else {
        ToneInstrument {
            family: FAMILIES[usize::from((program & 0x7F) / 8)].to_owned(),
            number: program,
            name: Some(instrument_name(program).to_owned()),
        }
    }
}

/// UTF-8 text as a byte-per-character reader (@tonejs/midi's MIDI parser) shows it.
fn latin1(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// The inverse of [`latin1`]; characters past U+00FF (written by hand) are kept as they are.
fn from_latin1(text: &str) -> String {
    if text.chars().all(|c| u32::from(c) <= 0xFF) {
        let bytes: Vec<u8> = text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        text.to_owned()
    }
}
