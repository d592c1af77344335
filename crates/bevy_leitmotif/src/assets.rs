//! Assets: `*.moods.ron` mood tables (hot-reloadable) and `Melody` scores from `.mid`,
//! `.melody.json` and `.melody.ron`, usable as a primer or a fixed cue.

use bevy::asset::io::Reader;
use bevy::asset::{Asset, AssetLoader, LoadContext};
use bevy::reflect::TypePath;
use leitmotif_compose::{MoodError, MoodTable};
use leitmotif_score::{FileFormat, Score};
use thiserror::Error;

/// A mood table loaded from a `*.moods.ron` file: the game's states and their music.
#[derive(Asset, TypePath, Debug, Clone)]
pub struct Moods(pub MoodTable);

/// A score loaded from a `.mid`, `.midi`, `.melody.json` or `.melody.ron` file.
#[derive(Asset, TypePath, Debug, Clone)]
pub struct Melody(pub Score);

/// Why a mood table did not load.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MoodsLoaderError {
    /// The file could not be read.
    #[error("cannot read the mood table: {0}")]
    Io(#[from] std::io::Error),
    /// Not UTF-8.
    #[error("the mood table is not UTF-8 text")]
    Utf8,
    /// Not a valid table.
    #[error(transparent)]
    Table(#[from] MoodError),
}

/// Loads `*.moods.ron`.
#[derive(Debug, Default, TypePath)]
pub struct MoodsLoader;

impl AssetLoader for MoodsLoader {
    type Asset = Moods;
    type Settings = ();
    type Error = MoodsLoaderError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        _load_context: &mut LoadContext<'_>,
    ) -> Result<Moods, MoodsLoaderError> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| MoodsLoaderError::Utf8)?;
        Ok(Moods(MoodTable::from_ron(text)?))
    }

    fn extensions(&self) -> &[&str] {
        &["moods.ron"]
    }
}

/// Why a melody did not load.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MelodyLoaderError {
    /// The file could not be read.
    #[error("cannot read the melody: {0}")]
    Io(#[from] std::io::Error),
    /// The name does not say which format it is.
    #[error("{0}: not a .mid, .midi, .melody.json or .melody.ron file")]
    Format(String),
    /// A broken file (the message names the problem).
    #[error(transparent)]
    Score(#[from] leitmotif_score::Error),
}

/// Loads `.mid`, `.midi`, `.melody.json` and `.melody.ron` into a [`Melody`].
#[derive(Debug, Default, TypePath)]
pub struct MelodyLoader;

impl AssetLoader for MelodyLoader {
    type Asset = Melody;
    type Settings = ();
    type Error = MelodyLoaderError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        load_context: &mut LoadContext<'_>,
    ) -> Result<Melody, MelodyLoaderError> {
        let path = load_context.path().path().to_owned();
        let format = FileFormat::from_path(&path)
            .filter(|f| *f != FileFormat::ToneJson)
            .ok_or_else(|| MelodyLoaderError::Format(path.display().to_string()))?;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        Ok(Melody(format.parse(&bytes, &path)?.score))
    }

    fn extensions(&self) -> &[&str] {
        &["mid", "midi", "melody.json", "melody.ron"]
    }
}
