//! Typed errors for everything that reads, checks or writes a score.

use std::path::PathBuf;

use thiserror::Error;

/// A score that breaks one of the rules in [`crate::Score::validate`].
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// The resolution is 0 or does not fit MIDI's 15-bit field.
    #[error("invalid resolution: {0} ticks per quarter note (must be 1..=32767)")]
    InvalidPpq(u16),
    /// Something lies past [`crate::MAX_QUARTERS`].
    #[error("score too long: tick {tick} is past the limit of {max} ticks")]
    TooLong {
        /// The offending tick.
        tick: u64,
        /// The largest tick allowed at this resolution.
        max: u64,
    },
    /// An event lies after the score's `end_tick`.
    #[error("{what} at tick {tick} lies after the score's end_tick {end_tick}")]
    PastEnd {
        /// What kind of event.
        what: &'static str,
        /// Its tick.
        tick: u64,
        /// The score's end.
        end_tick: u64,
    },
    /// A list is not sorted by tick.
    #[error("{what} at tick {tick} is out of order (lists must be sorted by tick)")]
    Unsorted {
        /// What kind of event.
        what: &'static str,
        /// The first tick found out of order.
        tick: u64,
    },
    /// A tempo outside what MIDI can store.
    #[error("invalid tempo at tick {tick}: {bpm} bpm (must be about 3.6..=60000000 bpm)")]
    InvalidTempo {
        /// Where it stands.
        tick: u64,
        /// The tempo asked for.
        bpm: f64,
    },
    /// A time signature with a zero numerator or a denominator that is not a power of two.
    #[error(
        "invalid time signature at tick {tick}: {numerator}/{denominator} \
         (numerator 1..=255, denominator a power of two up to 64)"
    )]
    InvalidTimeSignature {
        /// Where it stands.
        tick: u64,
        /// Beats per bar.
        numerator: u8,
        /// Beat unit.
        denominator: u8,
    },
    /// A key signature with more than seven sharps or flats.
    #[error("invalid key signature at tick {tick}: {sharps} sharps (must be -7..=7)")]
    InvalidKeySignature {
        /// Where it stands.
        tick: u64,
        /// The count found.
        sharps: i8,
    },
    /// A track with a bad channel, program, role or note.
    #[error("track {track} ({name:?}): {reason}")]
    InvalidTrack {
        /// The track's index.
        track: usize,
        /// The track's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// A Standard MIDI File that cannot be read, or a score that cannot be written as one.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MidiError {
    /// The input has no bytes.
    #[error("empty file: a MIDI file starts with an \"MThd\" header")]
    Empty,
    /// The first four bytes are not `MThd` (or a RIFF-wrapped MIDI file).
    #[error("not a MIDI file: it starts with {found:?}, not \"MThd\"")]
    NotMidi {
        /// The first bytes found, escaped.
        found: String,
    },
    /// The file ends inside a structure.
    #[error("truncated file: it ends at byte {len} inside the {what} that starts at byte {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where that structure starts.
        offset: usize,
        /// The file's length.
        len: usize,
    },
    /// A chunk says it is longer than what is left of the file.
    #[error(
        "chunk {index} at byte {offset} declares {declared} bytes but only {available} remain \
         (truncated or corrupt file)"
    )]
    ChunkPastEnd {
        /// The chunk's index (0 is the header).
        index: usize,
        /// Where the chunk starts.
        offset: usize,
        /// Its declared length.
        declared: u32,
        /// The bytes actually left.
        available: usize,
    },
    /// The header chunk is shorter than the six bytes it must hold.
    #[error("invalid header: its length is {0} bytes, at least 6 are required")]
    HeaderTooShort(u32),
    /// SMF format 2 (independent sequences) or an unknown format number.
    #[error("unsupported MIDI format {0}: only format 0 and 1 files are read")]
    UnsupportedFormat(u16),
    /// SMPTE (frames per second) timing instead of ticks per quarter note.
    #[error("unsupported SMPTE time division: only ticks-per-quarter-note files are read")]
    SmpteTiming,
    /// A division of zero ticks per quarter note.
    #[error("invalid time division: 0 ticks per quarter note")]
    ZeroPpq,
    /// The header's track count disagrees with the track chunks present.
    #[error("the header declares {declared} tracks but the file holds {found}")]
    TrackCount {
        /// From the header.
        declared: u16,
        /// Track chunks found.
        found: usize,
    },
    /// A track chunk holds bytes that are not valid MIDI events.
    #[error("track {track}: malformed events ({reason})")]
    Malformed {
        /// The track's index in the file.
        track: usize,
        /// What the parser found.
        reason: String,
    },
    /// A meta event whose value is impossible (tempo 0, time signature 0/x, ...).
    #[error("track {track}, tick {tick}: {reason}")]
    BadEvent {
        /// The track's index in the file.
        track: usize,
        /// Its tick in the file's own resolution.
        tick: u64,
        /// What is wrong.
        reason: String,
    },
    /// Delta times that add up past [`crate::MAX_QUARTERS`].
    #[error(
        "track {track}: events reach tick {tick}, past the limit of {max} ticks \
         (absurd delta times)"
    )]
    TooLong {
        /// The track's index in the file.
        track: usize,
        /// The tick reached.
        tick: u64,
        /// The limit at the file's resolution.
        max: u64,
    },
    /// The score to write is not valid.
    #[error("cannot write this score: {0}")]
    InvalidScore(#[from] ScoreError),
    /// The MIDI encoder failed.
    #[error("MIDI encoding failed: {0}")]
    Encode(String),
}

/// A `.melody.json`, `.melody.ron` or `.tone.json` document that cannot be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// Not well-formed, or not the expected shape (unknown or missing fields, wrong types).
    #[error("invalid {format}: {message}")]
    Syntax {
        /// Which format was being read.
        format: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A `format` field other than the one this version reads.
    #[error("unsupported format {found:?}: this version reads {expected:?}")]
    UnsupportedVersion {
        /// What the document says.
        found: String,
        /// What this version reads.
        expected: &'static str,
    },
    /// A value the format's fields allow but a score does not (e.g. a velocity of 1.5).
    #[error("invalid value: {0}")]
    Value(String),
    /// The score inside is not valid.
    #[error("invalid score: {0}")]
    InvalidScore(#[from] ScoreError),
}

/// Anything that can go wrong reading or writing a score file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad MIDI file.
    #[error("{path}: {source}")]
    Midi {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: MidiError,
    },
    /// A bad JSON or RON document.
    #[error("{path}: {source}")]
    Document {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: DocumentError,
    },
    /// A file name whose extension names no format Leitmotif knows.
    #[error("{0}: unknown file type (use .mid, .midi, .melody.json, .melody.ron or .tone.json)")]
    UnknownExtension(PathBuf),
    /// The operating system refused a read or write.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file too large to be a score.
    #[error("{path}: {len} bytes is larger than the {max}-byte limit for a score file")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
}
