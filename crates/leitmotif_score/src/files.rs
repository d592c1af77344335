//! Reading and writing score files by extension, with atomic writes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::melody::MelodyDocument;
use crate::score::Score;
use crate::{midi, tone};

/// The largest score file read, in bytes. Real MIDI files are far smaller; the limit keeps
/// a wrong path (a video, a disk image) from being read into memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A file format Leitmotif reads and writes, chosen by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// A Standard MIDI File (`.mid`, `.midi`).
    Midi,
    /// The project's asset format as JSON (`.melody.json`).
    MelodyJson,
    /// The project's asset format as RON (`.melody.ron`).
    MelodyRon,
    /// The shape of @tonejs/midi's `Midi.toJSON()` (`.tone.json`).
    ToneJson,
}

impl FileFormat {
    /// The format a path's name asks for, if any (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".mid") || name.ends_with(".midi") {
            Some(Self::Midi)
        } else if name.ends_with(".melody.json") {
            Some(Self::MelodyJson)
        } else if name.ends_with(".melody.ron") {
            Some(Self::MelodyRon)
        } else if name.ends_with(".tone.json") {
            Some(Self::ToneJson)
        } else {
            None
        }
    }

    /// The extension this format writes, with its leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Midi => ".mid",
            Self::MelodyJson => ".melody.json",
            Self::MelodyRon => ".melody.ron",
            Self::ToneJson => ".tone.json",
        }
    }

    /// Parses `bytes` in this format.
    ///
    /// # Errors
    /// The format's typed error, wrapped with `path` for the message.
    pub fn parse(self, bytes: &[u8], path: &Path) -> Result<MelodyDocument, Error> {
        let doc_err = |source| Error::Document {
            path: path.to_owned(),
            source,
        };
        let text = || {
            std::str::from_utf8(bytes).map_err(|e| {
                doc_err(crate::DocumentError::Syntax {
                    format: "text",
                    message: format!("not UTF-8: {e}"),
                })
            })
        };
        match self {
            Self::Midi => midi::read_midi(bytes)
                .map(MelodyDocument::new)
                .map_err(|source| Error::Midi {
                    path: path.to_owned(),
                    source,
                }),
            Self::MelodyJson => MelodyDocument::from_json(text()?).map_err(doc_err),
            Self::MelodyRon => MelodyDocument::from_ron(text()?).map_err(doc_err),
            Self::ToneJson => tone::from_tone_json(text()?)
                .map(MelodyDocument::new)
                .map_err(doc_err),
        }
    }

    /// Encodes `doc` in this format (generation metadata only survives the melody formats).
    ///
    /// # Errors
    /// The format's typed error if the score is invalid, wrapped with `path`.
    pub fn encode(self, doc: &MelodyDocument, path: &Path) -> Result<Vec<u8>, Error> {
        let doc_err = |source| Error::Document {
            path: path.to_owned(),
            source,
        };
        match self {
            Self::Midi => midi::write_midi(&doc.score).map_err(|source| Error::Midi {
                path: path.to_owned(),
                source,
            }),
            Self::MelodyJson => doc.to_json().map(String::into_bytes).map_err(doc_err),
            Self::MelodyRon => doc.to_ron().map(String::into_bytes).map_err(doc_err),
            Self::ToneJson => tone::to_tone_json(&doc.score)
                .map(String::into_bytes)
                .map_err(doc_err),
        }
    }
}

/// Reads a score file, choosing the format from its name.
///
/// # Errors
/// [`Error::UnknownExtension`], [`Error::Io`], [`Error::TooLarge`], or the format's error.
pub fn read_document(path: &Path) -> Result<MelodyDocument, Error> {
    let format = FileFormat::from_path(path).ok_or_else(|| Error::UnknownExtension(path.into()))?;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let len = fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            len,
            max: MAX_FILE_BYTES,
        });
    }
    let bytes = fs::read(path).map_err(io)?;
    format.parse(&bytes, path)
}

/// Reads the score in a file, choosing the format from its name.
///
/// # Errors
/// As [`read_document`].
pub fn read_score(path: &Path) -> Result<Score, Error> {
    read_document(path).map(|doc| doc.score)
}

/// Writes a document, choosing the format from the path's name.
///
/// The bytes are encoded in full first, then written to a temporary file in the same folder
/// that is renamed over `path`, so a failure never leaves a half-written file behind.
///
/// # Errors
/// [`Error::UnknownExtension`], an invalid score, or [`Error::Io`].
pub fn write_document(path: &Path, doc: &MelodyDocument) -> Result<(), Error> {
    let format = FileFormat::from_path(path).ok_or_else(|| Error::UnknownExtension(path.into()))?;
    let bytes = format.encode(doc, path)?;
    write_atomic(path, &bytes)
}

/// The formats a game engine imports: MIDI, melody JSON and tone JSON.
pub const ENGINE_FORMATS: [FileFormat; 3] = [
    FileFormat::Midi,
    FileFormat::MelodyJson,
    FileFormat::ToneJson,
];

/// Writes each document as `STEM.mid`, `STEM.melody.json` and `STEM.tone.json`: every file
/// is encoded before any is written, then each is written atomically. Returns the paths.
///
/// # Errors
/// An invalid score (nothing is written then), or [`Error::Io`].
pub fn write_engine_files(docs: &[(PathBuf, MelodyDocument)]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for (stem, doc) in docs {
        for format in ENGINE_FORMATS {
            let mut name = stem.as_os_str().to_owned();
            name.push(format.extension());
            let path = PathBuf::from(name);
            let bytes = format.encode(doc, &path)?;
            files.push((path, bytes));
        }
    }
    for (path, bytes) in &files {
        write_atomic(path, bytes)?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// Writes a score (with no generation metadata), choosing the format from the path's name.
///
/// # Errors
/// As [`write_document`].
pub fn write_score(path: &Path, score: &Score) -> Result<(), Error> {
    write_document(path, &MelodyDocument::new(score.clone()))
}

/// Writes `bytes` to `path` through a temporary sibling file and a rename.
///
/// # Errors
/// [`Error::Io`] naming `path`; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io(std::io::Error::other("the path names no file")))?;
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temporary file may not exist if creating it failed.
        let _ = fs::remove_file(&temp);
        return Err(io(e));
    }
    Ok(())
}
