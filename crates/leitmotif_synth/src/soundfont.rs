//! Loading SoundFont 2 files for [`rustysynth`], with errors that name the file.

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::SynthError;

/// A loaded SoundFont 2 (cheap to clone: an [`Arc`] inside).
///
/// Every [`crate::Engine`] bus playing it shares the same sample data.
#[derive(Clone)]
pub struct SoundFont {
    font: Arc<rustysynth::SoundFont>,
    name: Arc<str>,
}

impl SoundFont {
    /// Reads and parses the SoundFont 2 file at `path`.
    ///
    /// # Errors
    /// [`SynthError::SoundFont`] naming `path` when the file is missing or unreadable, is
    /// truncated, is not a SoundFont 2 file, or holds compressed (SF3) samples.
    pub fn load(path: &Path) -> Result<SoundFont, SynthError> {
        let bytes = std::fs::read(path).map_err(|e| SynthError::SoundFont {
            path: path.to_owned(),
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                _ => format!("cannot read it: {e}"),
            },
        })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::parse(path.to_owned(), name, &bytes)
    }

    /// Parses a SoundFont 2 file held in memory; `name` names it in errors and in
    /// [`SoundFont::name`].
    ///
    /// # Errors
    /// [`SynthError::SoundFont`] naming `name` when the bytes are truncated, are not a
    /// SoundFont 2 file, or hold compressed (SF3) samples.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<SoundFont, SynthError> {
        Self::parse(PathBuf::from(name), name.to_owned(), bytes)
    }

    /// The file's name (or the name given to [`SoundFont::from_bytes`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of presets (instruments and drum kits) the file holds.
    pub fn preset_count(&self) -> usize {
        self.font.get_presets().len()
    }

    /// Whether the file holds the preset `program` in `bank` (drum kits are in bank 128).
    pub fn has_preset(&self, bank: u16, program: u8) -> bool {
        self.font.get_presets().iter().any(|p| {
            p.get_bank_number() == i32::from(bank) && p.get_patch_number() == i32::from(program)
        })
    }

    /// The parsed font, for building [`rustysynth::Synthesizer`]s.
    pub(crate) fn inner(&self) -> &Arc<rustysynth::SoundFont> {
        &self.font
    }

    fn parse(path: PathBuf, name: String, bytes: &[u8]) -> Result<SoundFont, SynthError> {
        let fail = |reason: String| SynthError::SoundFont {
            path: path.clone(),
            reason,
        };
        // Check the RIFF structure first: rustysynth trusts the chunk sizes it reads and
        // would allocate whatever a damaged header announces before noticing the data is
        // missing; this also turns a truncated file into a message that says so.
        check_riff(bytes).map_err(fail)?;
        let parsed =
            std::panic::catch_unwind(|| rustysynth::SoundFont::new(&mut Cursor::new(bytes)))
                .map_err(|_| fail("the parser rejected the file's structure".to_owned()))?;
        let font = parsed.map_err(|e| {
            fail(match e {
                rustysynth::SoundFontError::UnsupportedSampleFormat => {
                    "it holds compressed (SF3) samples; only SoundFont 2 is supported".to_owned()
                }
                rustysynth::SoundFontError::IoError(io)
                    if io.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    "truncated: the file ends inside a chunk".to_owned()
                }
                other => format!("not a valid SoundFont 2 file: {other}"),
            })
        })?;
        if font.get_presets().is_empty() {
            return Err(fail("it holds no presets".to_owned()));
        }
        tracing::debug!(
            "loaded SoundFont {}: {} presets",
            path.display(),
            font.get_presets().len()
        );
        Ok(SoundFont {
            font: Arc::new(font),
            name: name.into(),
        })
    }
}

impl fmt::Debug for SoundFont {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoundFont")
            .field("name", &self.name)
            .field("presets", &self.preset_count())
            .finish()
    }
}

/// Two handles are equal when they share the same loaded font.
impl PartialEq for SoundFont {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.font, &other.font)
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn four_cc(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// Checks that `bytes` is a RIFF `sfbk` file whose chunks (and the chunks inside its
/// `LIST`s) all fit inside the file.
fn check_riff(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" {
        return Err(if bytes.is_empty() {
            "not a SoundFont 2 file: the file is empty".to_owned()
        } else {
            "not a SoundFont 2 file: it does not start with a RIFF header".to_owned()
        });
    }
    if &bytes[8..12] != b"sfbk" {
        return Err(format!(
            "not a SoundFont 2 file: a RIFF file of type '{}', not 'sfbk'",
            four_cc(&bytes[8..12])
        ));
    }
    let announced = read_u32(bytes, 4) as usize;
    let end = announced.saturating_add(8);
    if end > bytes.len() {
        return Err(format!(
            "truncated: its RIFF header announces {end} bytes but the file has {}",
            bytes.len()
        ));
    }
    check_chunks(bytes, 12, end, 0)
}

fn check_chunks(bytes: &[u8], mut at: usize, end: usize, depth: u8) -> Result<(), String> {
    while at + 8 <= end {
        let id = &bytes[at..at + 4];
        let size = read_u32(bytes, at + 4) as usize;
        let body = at + 8;
        let chunk_end = body.saturating_add(size);
        if chunk_end > end {
            return Err(format!(
                "truncated: the '{}' chunk at byte {at} announces {size} bytes but only {} remain",
                four_cc(id),
                end - body
            ));
        }
        if id == b"LIST" && depth == 0 && size >= 4 {
            check_chunks(bytes, body + 4, chunk_end, depth + 1)?;
        }
        // Chunks are padded to an even length.
        at = chunk_end + (size & 1);
    }
    Ok(())
}
