//! Training corpora: every `.mid` file under a folder, tokenized, with a deterministic
//! train/validation split by content hash.
//!
//! A folder may hold `manifest.csv` files (as the project's training data does) with a
//! `path` column relative to the manifest and optional `rhythm`, `source` and
//! `content_hash` columns; they supply style tags and the split. Files with no manifest row
//! get style `other` and a hash computed here from their notes (transposition-invariant, so
//! a tune and its transposition land on the same side of the split).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use leitmotif_score::Score;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::encode::encode_ids;
use crate::fnv::Fnv1a;
use crate::vocab::Style;

/// One validation piece in this many (by hash).
pub const VALIDATION_EVERY: u64 = 10;

/// Which side of the split a piece is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Used for training.
    Train,
    /// Held out for validation and evaluation.
    Validation,
}

/// One tokenized piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    /// The file, relative to the corpus folder.
    pub path: PathBuf,
    /// Its style tag.
    pub style: Style,
    /// Its split.
    pub split: Split,
    /// Its tokens, `Bos` to `Eos`.
    pub ids: Vec<u32>,
}

/// A tokenized folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Corpus {
    /// The pieces that tokenized, sorted by path.
    pub pieces: Vec<Piece>,
    /// Files that could not be read or tokenized, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// A folder that cannot be used as a corpus.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CorpusError {
    /// The folder cannot be listed.
    #[error("{path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No `.mid` file tokenized.
    #[error("{0}: no usable .mid files found")]
    Empty(PathBuf),
}

#[derive(Debug, Clone, Default)]
struct ManifestRow {
    style: Option<Style>,
    hash: Option<u64>,
}

impl Corpus {
    /// Reads and tokenizes every `.mid`/`.midi` file under `dir` (recursively).
    ///
    /// # Errors
    /// [`CorpusError`] if the folder cannot be listed or holds no usable file. Files that
    /// fail to read or tokenize are listed in [`Corpus::skipped`], not fatal.
    pub fn load(dir: &Path) -> Result<Self, CorpusError> {
        let mut files = Vec::new();
        let mut manifest = HashMap::new();
        walk(dir, &mut files, &mut manifest)?;
        files.sort();
        let mut corpus = Corpus::default();
        for file in files {
            let relative = file.strip_prefix(dir).unwrap_or(&file).to_owned();
            let row = manifest.get(&file).cloned().unwrap_or_default();
            let score = match leitmotif_score::read_score(&file) {
                Ok(score) => score,
                Err(e) => {
                    corpus.skipped.push((relative, e.to_string()));
                    continue;
                }
            };
            let style = row.style.unwrap_or(Style::Other);
            match encode_ids(&score, style) {
                Ok(ids) => {
                    let hash = row.hash.unwrap_or_else(|| content_hash(&score));
                    let split = if hash % VALIDATION_EVERY == 0 {
                        Split::Validation
                    } else {
                        Split::Train
                    };
                    corpus.pieces.push(Piece {
                        path: relative,
                        style,
                        split,
                        ids,
                    });
                }
                Err(e) => corpus.skipped.push((relative, e.to_string())),
            }
        }
        if corpus.pieces.is_empty() {
            return Err(CorpusError::Empty(dir.to_owned()));
        }
        Ok(corpus)
    }

    /// The pieces on one side of the split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &Piece> {
        self.pieces.iter().filter(move |p| p.split == split)
    }

    /// Total tokens on one side of the split.
    pub fn tokens(&self, split: Split) -> usize {
        self.split(split).map(|p| p.ids.len()).sum()
    }
}

fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    manifest: &mut HashMap<PathBuf, ManifestRow>,
) -> Result<(), CorpusError> {
    let io = |source| CorpusError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files, manifest)?;
        } else if path.file_name().is_some_and(|n| n == "manifest.csv") {
            if let Ok(text) = std::fs::read_to_string(&path) {
                read_manifest(dir, &text, manifest);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
        {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads the manifest rows that name a file (unknown columns are ignored; a manifest
/// without a `path` column contributes nothing).
fn read_manifest(dir: &Path, text: &str, out: &mut HashMap<PathBuf, ManifestRow>) {
    let mut lines = text.lines();
    let Some(header) = lines.next().map(split_csv_line) else {
        return;
    };
    let column = |name: &str| header.iter().position(|h| h == name);
    let Some(path_col) = column("path") else {
        return;
    };
    let (rhythm, source, hash) = (column("rhythm"), column("source"), column("content_hash"));
    for line in lines {
        let fields = split_csv_line(line);
        let get = |c: Option<usize>| c.and_then(|c| fields.get(c)).map(String::as_str);
        let Some(path) = get(Some(path_col)) else {
            continue;
        };
        let style = get(rhythm)
            .and_then(Style::from_word)
            .or_else(|| get(source).and_then(style_of_source));
        let hash = get(hash).and_then(|h| {
            let tail = &h[h.len().saturating_sub(15)..];
            u64::from_str_radix(tail, 16).ok()
        });
        out.insert(dir.join(path), ManifestRow { style, hash });
    }
}

/// Style implied by a source collection of the training data.
fn style_of_source(source: &str) -> Option<Style> {
    match source {
        "airds_airs" => Some(Style::Air),
        "bach_chorales" => Some(Style::Chorale),
        "oneills1850" | "misc_folk" => Some(Style::Folk),
        _ => None,
    }
}

/// Splits one CSV line, honouring double quotes (`""` inside quotes is a quote).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A transposition-invariant FNV-1a hash of a score's notes: onsets, durations, and each
/// pitch's distance from the lowest pitch.
pub fn content_hash(score: &Score) -> u64 {
    let mut notes: Vec<_> = score.tracks.iter().flat_map(|t| t.notes.iter()).collect();
    notes.sort_by_key(|n| (n.start, n.pitch));
    let lowest = notes.iter().map(|n| n.pitch).min().unwrap_or(0);
    let mut hash = Fnv1a::default();
    for n in notes {
        hash.write_u64(n.start);
        hash.write_u64(n.duration);
        hash.write_u64(u64::from(n.pitch - lowest));
    }
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_quotes_and_commas() {
        assert_eq!(
            split_csv_line(r#"a/b.mid,"Title, with comma","say ""hi""",,x"#),
            vec!["a/b.mid", "Title, with comma", r#"say "hi""#, "", "x"]
        );
    }
}
