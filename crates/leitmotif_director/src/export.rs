//! The session as a score and as files: every phrase where it played, markers where each
//! state's music began, written as `.mid`, `.melody.json` and `.tone.json`.

use std::path::{Path, PathBuf};

use leitmotif_score::files::write_engine_files;
use leitmotif_score::{MelodyDocument, Score};

use crate::clock::PPQ;
use crate::director::Director;
use crate::error::DirectorError;
use crate::session::Render;

/// The session score's name (its conductor track's name in MIDI).
pub const SESSION_NAME: &str = "Leitmotif session";

/// The longest name part [`sanitize_name`] keeps, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// `name` made safe as part of a file name: every character but ASCII letters, digits, `-`
/// and `_` becomes `_` (so no separator, dot or drive letter survives and no path can leave
/// its folder), cut to [`MAX_NAME_CHARS`]; an empty name becomes `untitled`.
pub fn sanitize_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "untitled".to_owned()
    } else {
        safe
    }
}

impl Director {
    /// The session so far (up to the tick now) as one score at 480 PPQ.
    ///
    /// Every phrase is where it played: a phrase cut by a transition keeps only the notes
    /// starting before the cut, and notes ringing past the cut (or past now) are cut there;
    /// repeats appear as played. Tempo, meter and key changes stand at the phrase starts
    /// where they change (a meter also where a phrase starts mid-bar, a tempo also on each
    /// beat of a mood's tempo ramp), and a marker (MIDI FF 06) named after each game state,
    /// as the game named it, stands where that state's music began. Tracks are merged by role — melody, bass, chords, drums, in that order,
    /// one each where any notes played — then the stingers' own `Stinger` track.
    ///
    /// Every layer is recorded as written, whatever the intensity was: phrases are written
    /// with all of their mood's layers, and intensity decides only which are heard (an
    /// audio player's gain lanes, see [`active_layers`](Self::active_layers)). So the
    /// tracks are the stems a game engine's own vertical layering mixes (FMOD, Wwise,
    /// Unreal's `MetaSounds`, Unity), and a crossfade is recorded as the cut on the boundary;
    /// what a player actually sounded is its audio (the Bevy plugin's `session.wav`).
    pub fn session_score(&self) -> Score {
        if !self.is_started() {
            return Score::new(PPQ);
        }
        let what = Render {
            markers: true,
            stingers: true,
        };
        let mut score = self.timeline.render(&self.clock, 0, self.tick, what);
        SESSION_NAME.clone_into(&mut score.name);
        score
    }

    /// The music scheduled for session ticks `lo..hi` (past, playing or still to come), as a
    /// score whose tick 0 is `lo`: what plays there as things stand now (a state change or a
    /// late phrase may still replace what lies ahead). Tracks as in
    /// [`session_score`](Self::session_score), stingers included, no markers. Empty before the
    /// music starts or when `hi <= lo`.
    pub fn scheduled_score(&self, lo: u64, hi: u64) -> Score {
        if !self.is_started() || hi <= lo {
            return Score::new(PPQ);
        }
        let what = Render {
            markers: false,
            stingers: true,
        };
        self.timeline.render(&self.clock, lo, hi, what)
    }

    /// Writes every delivered phrase alone (`{name}_phrase_{NNN}_{state}`, numbered from 001
    /// in delivery order, stingers included, with its generation metadata in the
    /// `.melody.json`) and the whole [`session_score`](Self::session_score)
    /// (`{name}_session`), each as `.mid`, `.melody.json` and `.tone.json` in `dir`
    /// (created if missing), and returns the paths written.
    ///
    /// `name` and state names pass through [`sanitize_name`], so every file lands in `dir`.
    /// All files are encoded before any is written, and each is written atomically.
    ///
    /// # Errors
    /// [`DirectorError::Io`] if `dir` cannot be created; [`DirectorError::File`] if a
    /// score cannot be encoded or a file written.
    pub fn export(&self, dir: &Path, name: &str) -> Result<Vec<PathBuf>, DirectorError> {
        std::fs::create_dir_all(dir).map_err(|source| DirectorError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(write_engine_files(&self.export_documents(dir, name))?)
    }

    /// What [`export`](Self::export) writes, before anything is encoded: each file's path
    /// without its extension, and its document. A snapshot of the session now, to be
    /// written elsewhere (another thread) with
    /// [`write_engine_files`](leitmotif_score::files::write_engine_files) once `dir` exists.
    pub fn export_documents(&self, dir: &Path, name: &str) -> Vec<(PathBuf, MelodyDocument)> {
        let name = sanitize_name(name);
        let mut docs = Vec::new();
        for (i, phrase) in self.timeline.phrases.iter().enumerate() {
            let stem = format!(
                "{name}_phrase_{:03}_{}",
                i + 1,
                sanitize_name(&phrase.state)
            );
            let mut doc = MelodyDocument::new(phrase.score());
            doc.generation.clone_from(&phrase.generation);
            docs.push((dir.join(stem), doc));
        }
        docs.push((
            dir.join(format!("{name}_session")),
            MelodyDocument::new(self.session_score()),
        ));
        docs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_folder() {
        for (name, safe) in [
            ("../x", "___x"),
            ("/abs", "_abs"),
            ("a/b", "a_b"),
            ("a\\b", "a_b"),
            ("C:evil", "C_evil"),
            ("", "untitled"),
            ("..", "__"),
            ("boss fight!", "boss_fight_"),
            ("ok-name_1", "ok-name_1"),
            ("é", "_"),
        ] {
            assert_eq!(sanitize_name(name), safe, "{name:?}");
        }
        assert_eq!(sanitize_name(&"x".repeat(200)).len(), MAX_NAME_CHARS);
    }
}
