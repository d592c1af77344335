//! The in-memory score: notes on tracks, plus the tempo, meter, key and marker maps.

use serde::{Deserialize, Serialize};

use crate::error::ScoreError;

/// The resolution every file Leitmotif writes uses, in ticks per quarter note.
///
/// 480 divides 960, the resolution Unreal Engine's Harmonix importer rescales to, so no
/// note moves when a file is imported there.
pub const DEFAULT_PPQ: u16 = 480;

/// The longest score accepted, in quarter notes (about 55 hours at 120 bpm).
///
/// Anything past it is treated as corrupt input rather than music; the limit also bounds
/// the memory that per-bar analysis allocates.
pub const MAX_QUARTERS: u64 = 400_000;

/// The MIDI channel (0-based) that General MIDI reserves for drums ("channel 10").
pub const DRUM_CHANNEL: u8 = 9;

/// A piece of music: what a MIDI file holds, in a form that is easy to edit and analyse.
///
/// Ticks are absolute (from the start of the piece) at [`Score::ppq`] ticks per quarter note.
/// Every list is kept sorted by tick; [`Score::validate`] checks this and the value ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Score {
    /// The piece's title (the conductor track's name in MIDI); may be empty.
    #[serde(default)]
    pub name: String,
    /// Ticks per quarter note.
    pub ppq: u16,
    /// Where the piece ends, in ticks: at or after the end of its last note. For a loop
    /// this is the loop length, so trailing rests are kept.
    pub end_tick: u64,
    /// Tempo changes, sorted by tick. Empty means 120 bpm throughout.
    #[serde(default)]
    pub tempos: Vec<TempoChange>,
    /// Time-signature changes, sorted by tick. Empty means 4/4 throughout.
    #[serde(default)]
    pub time_signatures: Vec<TimeSignatureChange>,
    /// Key-signature changes, sorted by tick. Empty means no key is stated.
    #[serde(default)]
    pub key_signatures: Vec<KeySignatureChange>,
    /// Section markers (MIDI meta event FF 06), sorted by tick.
    #[serde(default)]
    pub markers: Vec<Marker>,
    /// The parts, in order.
    #[serde(default)]
    pub tracks: Vec<Track>,
}

/// A tempo change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TempoChange {
    /// Where the new tempo starts.
    pub tick: u64,
    /// Microseconds per quarter note, as MIDI stores it (500 000 is 120 bpm).
    pub micros_per_quarter: u32,
}

impl TempoChange {
    /// The largest value MIDI's 24-bit tempo field holds (about 3.6 bpm).
    pub const MAX_MICROS_PER_QUARTER: u32 = 0x00FF_FFFF;

    /// A tempo change at `tick` to `bpm` quarter notes per minute (rounded to the microsecond).
    pub fn from_bpm(tick: u64, bpm: f64) -> Result<Self, ScoreError> {
        if !bpm.is_finite() || bpm <= 0.0 {
            return Err(ScoreError::InvalidTempo { tick, bpm });
        }
        let micros = (60_000_000.0 / bpm).round();
        if !(1.0..=f64::from(Self::MAX_MICROS_PER_QUARTER)).contains(&micros) {
            return Err(ScoreError::InvalidTempo { tick, bpm });
        }
        Ok(Self {
            tick,
            #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
            #[expect(clippy::cast_sign_loss, reason = "range checked above")]
            micros_per_quarter: micros as u32,
        })
    }

    /// The tempo in quarter notes per minute.
    pub fn bpm(&self) -> f64 {
        60_000_000.0 / f64::from(self.micros_per_quarter)
    }
}

/// A time-signature change; bars restart at its tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSignatureChange {
    /// Where the new meter starts.
    pub tick: u64,
    /// Beats per bar (the upper number), 1 or more.
    pub numerator: u8,
    /// The beat's note value (the lower number): a power of two from 1 to 64.
    pub denominator: u8,
}

/// A key-signature change, exactly as MIDI stores it.
///
/// [`crate::theory::Key::from_key_signature`] turns it into a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySignatureChange {
    /// Where the new key starts.
    pub tick: u64,
    /// Sharps (positive) or flats (negative) in the signature, -7..=7.
    pub sharps: i8,
    /// Whether the key is minor.
    pub minor: bool,
}

/// A named position in the piece: a section or a game state's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// Where the marker stands.
    pub tick: u64,
    /// Its text, e.g. `"combat"`.
    pub text: String,
}

/// What a part does in the arrangement; generation and layering work per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The tune.
    Melody,
    /// The bass line.
    Bass,
    /// Chords or pad.
    Chords,
    /// Percussion, on the General MIDI drum channel.
    Drums,
    /// Any other part (inner voices, counter-melodies).
    Other,
}

impl Role {
    /// All roles, in the order layers are written.
    pub const ALL: [Role; 5] = [
        Role::Melody,
        Role::Bass,
        Role::Chords,
        Role::Drums,
        Role::Other,
    ];

    /// The role a track most likely plays, judged from its name and channel.
    ///
    /// Channel 10 (index 9) is always drums and no other channel is. Otherwise the name
    /// decides: "melody", "lead", "tune", "soprano" → melody; "bass" → bass; "chord", "pad",
    /// "harmony", "comp" → chords; anything else → other. The rule is deterministic, so a
    /// score read from a file Leitmotif wrote gets its roles back.
    pub fn infer(name: &str, channel: u8) -> Role {
        if channel == DRUM_CHANNEL {
            return Role::Drums;
        }
        let name = name.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
        if has(&["melody", "lead", "tune", "soprano"]) {
            Role::Melody
        } else if has(&["bass"]) {
            Role::Bass
        } else if has(&["chord", "pad", "harmony", "comp"]) {
            Role::Chords
        } else {
            Role::Other
        }
    }

    /// The role's lowercase name, as used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Melody => "melody",
            Role::Bass => "bass",
            Role::Chords => "chords",
            Role::Drums => "drums",
            Role::Other => "other",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One part: its instrument, its channel and its notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    /// The part's name (the MIDI track name).
    #[serde(default)]
    pub name: String,
    /// What the part does; drums exactly when `channel` is 9.
    pub role: Role,
    /// General MIDI program (instrument), 0..=127.
    #[serde(default)]
    pub program: u8,
    /// MIDI channel, 0..=15 (9 is the drum channel).
    pub channel: u8,
    /// Notes sorted by start tick, then pitch.
    #[serde(default)]
    pub notes: Vec<Note>,
}

impl Track {
    /// An empty track for `role`, named after it, on channel 9 for drums and `channel` otherwise.
    pub fn new(name: impl Into<String>, role: Role, program: u8, channel: u8) -> Self {
        let channel = if role == Role::Drums {
            DRUM_CHANNEL
        } else {
            channel
        };
        Self {
            name: name.into(),
            role,
            program,
            channel,
            notes: Vec::new(),
        }
    }

    /// Sorts the notes into the order [`Score::validate`] expects.
    pub fn sort_notes(&mut self) {
        self.notes
            .sort_by_key(|n| (n.start, n.pitch, n.duration, n.velocity));
    }

    /// Whether no two notes of the track sound at once.
    pub fn is_monophonic(&self) -> bool {
        self.notes
            .windows(2)
            .all(|w| w[0].end() <= w[1].start && w[0].start < w[1].start)
    }
}

/// A sounding note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// Start, in ticks from the beginning of the piece.
    pub start: u64,
    /// Length in ticks (0 is allowed: a MIDI note-off at the same tick as its note-on).
    pub duration: u64,
    /// MIDI pitch, 0..=127 (60 is middle C, C4).
    pub pitch: u8,
    /// Attack velocity, 1..=127.
    pub velocity: u8,
}

impl Note {
    /// The tick where the note stops sounding.
    pub fn end(&self) -> u64 {
        self.start + self.duration
    }
}

impl Default for Score {
    fn default() -> Self {
        Self::new(DEFAULT_PPQ)
    }
}

impl Score {
    /// An empty score at `ppq` ticks per quarter note, with no tempo, meter or key stated.
    pub fn new(ppq: u16) -> Self {
        Self {
            name: String::new(),
            ppq,
            end_tick: 0,
            tempos: Vec::new(),
            time_signatures: Vec::new(),
            key_signatures: Vec::new(),
            markers: Vec::new(),
            tracks: Vec::new(),
        }
    }

    /// The largest tick this score may use, from [`MAX_QUARTERS`] at its resolution.
    pub fn max_tick(&self) -> u64 {
        MAX_QUARTERS * u64::from(self.ppq)
    }

    /// The tick after the last note of any track (0 for a score with no notes).
    pub fn last_note_end(&self) -> u64 {
        self.tracks
            .iter()
            .flat_map(|t| t.notes.iter().map(Note::end))
            .max()
            .unwrap_or(0)
    }

    /// The number of notes over all tracks.
    pub fn note_count(&self) -> usize {
        self.tracks.iter().map(|t| t.notes.len()).sum()
    }

    /// The tempo in force at tick 0, in microseconds per quarter (120 bpm if none is stated).
    pub fn initial_micros_per_quarter(&self) -> u32 {
        match self.tempos.first() {
            Some(t) if t.tick == 0 => t.micros_per_quarter,
            _ => 500_000,
        }
    }

    /// Sorts every list by tick (stable, so same-tick order is kept) and raises `end_tick`
    /// to the last note's end if it was short of it.
    pub fn normalize(&mut self) {
        self.tempos.sort_by_key(|t| t.tick);
        self.time_signatures.sort_by_key(|t| t.tick);
        self.key_signatures.sort_by_key(|k| k.tick);
        self.markers.sort_by_key(|m| m.tick);
        for track in &mut self.tracks {
            track.sort_notes();
        }
        self.end_tick = self.end_tick.max(self.last_note_end());
    }

    /// Checks every invariant the readers guarantee and the writers rely on.
    ///
    /// # Errors
    /// The first broken rule, naming the track, note or event that breaks it.
    pub fn validate(&self) -> Result<(), ScoreError> {
        if self.ppq == 0 || self.ppq > 0x7FFF {
            return Err(ScoreError::InvalidPpq(self.ppq));
        }
        let max = self.max_tick();
        if self.end_tick > max {
            return Err(ScoreError::TooLong {
                tick: self.end_tick,
                max,
            });
        }
        let check_tick = |tick: u64, what: &'static str| {
            if tick > self.end_tick {
                Err(ScoreError::PastEnd {
                    what,
                    tick,
                    end_tick: self.end_tick,
                })
            } else {
                Ok(())
            }
        };
        check_sorted(self.tempos.iter().map(|t| t.tick), "tempo change")?;
        check_sorted(
            self.time_signatures.iter().map(|t| t.tick),
            "time signature",
        )?;
        check_sorted(self.key_signatures.iter().map(|k| k.tick), "key signature")?;
        check_sorted(self.markers.iter().map(|m| m.tick), "marker")?;
        for t in &self.tempos {
            check_tick(t.tick, "tempo change")?;
            if t.micros_per_quarter == 0
                || t.micros_per_quarter > TempoChange::MAX_MICROS_PER_QUARTER
            {
                return Err(ScoreError::InvalidTempo {
                    tick: t.tick,
                    bpm: if t.micros_per_quarter == 0 {
                        f64::INFINITY
                    } else {
                        t.bpm()
                    },
                });
            }
        }
        for ts in &self.time_signatures {
            check_tick(ts.tick, "time signature")?;
            if ts.numerator == 0 || !ts.denominator.is_power_of_two() || ts.denominator > 64 {
                return Err(ScoreError::InvalidTimeSignature {
                    tick: ts.tick,
                    numerator: ts.numerator,
                    denominator: ts.denominator,
                });
            }
        }
        for ks in &self.key_signatures {
            check_tick(ks.tick, "key signature")?;
            if !(-7..=7).contains(&ks.sharps) {
                return Err(ScoreError::InvalidKeySignature {
                    tick: ks.tick,
                    sharps: ks.sharps,
                });
            }
        }
        for m in &self.markers {
            check_tick(m.tick, "marker")?;
        }
        for (index, track) in self.tracks.iter().enumerate() {
            self.validate_track(index, track)?;
        }
        Ok(())
    }

    fn validate_track(&self, index: usize, track: &Track) -> Result<(), ScoreError> {
        let bad = |reason: String| ScoreError::InvalidTrack {
            track: index,
            name: track.name.clone(),
            reason,
        };
        if track.channel > 15 {
            return Err(bad(format!("channel {} is not in 0..=15", track.channel)));
        }
        if track.program > 127 {
            return Err(bad(format!("program {} is not in 0..=127", track.program)));
        }
        if (track.role == Role::Drums) != (track.channel == DRUM_CHANNEL) {
            return Err(bad(format!(
                "role {} on channel {}: drums go on channel 9 (MIDI channel 10) and only there",
                track.role, track.channel
            )));
        }
        let mut previous: Option<&Note> = None;
        for (i, note) in track.notes.iter().enumerate() {
            if note.pitch > 127 {
                return Err(bad(format!(
                    "note {i}: pitch {} is not in 0..=127",
                    note.pitch
                )));
            }
            if note.velocity == 0 || note.velocity > 127 {
                return Err(bad(format!(
                    "note {i}: velocity {} is not in 1..=127",
                    note.velocity
                )));
            }
            if note.end() > self.end_tick {
                return Err(bad(format!(
                    "note {i} ends at tick {} after the score's end_tick {}",
                    note.end(),
                    self.end_tick
                )));
            }
            if let Some(p) = previous
                && (p.start, p.pitch) > (note.start, note.pitch)
            {
                return Err(bad(format!(
                    "note {i} is out of order (sort by start, then pitch)"
                )));
            }
            previous = Some(note);
        }
        Ok(())
    }
}

fn check_sorted(ticks: impl Iterator<Item = u64>, what: &'static str) -> Result<(), ScoreError> {
    let mut last = 0;
    for tick in ticks {
        if tick < last {
            return Err(ScoreError::Unsorted { what, tick });
        }
        last = tick;
    }
    Ok(())
}
