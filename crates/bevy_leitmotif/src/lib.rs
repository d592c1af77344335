//! Leitmotif for Bevy: game-state messages in, adaptive phrases out, on the game's musical
//! clock, exported for Unity and Unreal Engine.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_leitmotif::{BarTick, LeitmotifPlugin, SetGameState, SetIntensity};
//!
//! fn main() {
//!     App::new()
//!         .add_plugins((MinimalPlugins, bevy::asset::AssetPlugin::default(), LeitmotifPlugin::default()))
//!         .add_systems(Update, (enter_cave, on_bar))
//!         .run();
//! }
//!
//! fn enter_cave(mut states: MessageWriter<SetGameState>, mut intensity: MessageWriter<SetIntensity>) {
//!     states.write(SetGameState("mysterious".into()));
//!     intensity.write(SetIntensity(0.3));
//! }
//!
//! fn on_bar(mut bars: MessageReader<BarTick>) {
//!     for bar in bars.read() {
//!         tracing::info!("bar {}", bar.bar);
//!     }
//! }
//! ```
//!
//! The plugin is a thin layer over `leitmotif_director` (the clock, transitions, look-ahead
//! and session export) and `leitmotif_compose` (the models under hard constraints).
//! Generation never runs on the main thread: each phrase is composed on the
//! [`AsyncComputeTaskPool`] and polled with `check_ready`; a late phrase never silences or
//! stalls the game (the director repeats what is playing until it lands).
//!
//! # Where the models run
//!
//! With this crate's `render` feature and Bevy's `RenderPlugin` in the app (as in
//! `DefaultPlugins`), the models run on Bevy's own wgpu device and queue: no second GPU
//! device, no copies between devices. Without a render device they open their own (a
//! hardware adapter), and without one of those they run on the CPU. See
//! [`LeitmotifPlugin::backend`].
//!
//! # Music the game supplies
//!
//! A [`Melody`] asset (`.mid`, `.melody.json`, `.melody.ron`) plays as a fixed cue with
//! [`PlayCue`] (a composer's fanfare on the next bar line, continued by the generated
//! music), or becomes the theme the next phrase develops with [`PrimeWith`].
//!
//! # Hot reload
//!
//! A mood table named in [`LeitmotifPlugin::moods`] (or watched with [`WatchedMoods`])
//! reaches the director on every load and edit. To pick up edits to the file on disk while
//! the game runs, turn on Bevy's `file_watcher` feature in the game (`bevy = { features =
//! ["file_watcher"] }`), which makes the asset server watch the assets folder.
//!
//! # Hearing the music
//!
//! The plugin plays every phrase through kira ([`AudioSettings`], on the audio device by
//! default): each note on the exact sample of its tick, states crossfading or cutting on
//! their boundaries, layers fading in and out with the intensity, stingers over the music
//! in its key. The musical clock then follows what is heard, so [`BeatTick`] arrives in
//! the frame its beat sounds in. Volumes, instruments (built in, or presets of a `.sf2`
//! [`SoundFontAsset`]), mute and pause are messages ([`SetLayerVolume`], [`MuteMusic`],
//! [`PauseMusic`]...). With no audio device the game runs on silently with one warning and
//! the clock follows frame time; [`AudioOutput::Offline`] renders the soundtrack in step
//! with the frames instead ([`LeitmotifAudio::write_wav`]).
//!
//! # Health
//!
//! [`LeitmotifStatus`] says whether the model loaded (and on which backend), which mood
//! table is in force or why a table asset was refused, and whether sound plays; every
//! change also arrives as a [`LeitmotifStatusChanged`] message, so a game can tell its
//! player the music is unavailable rather than leave it to a log line.

mod assets;
mod audio;
mod device;
#[cfg(feature = "kira_audio_source")]
pub mod kira_source;
mod messages;
mod status;
mod systems;

use std::sync::Arc;

use bevy::asset::{AssetApp, Handle};
use bevy::prelude::*;
use leitmotif_compose::{Composer, MoodTable};
use leitmotif_director::{Director, DirectorSettings};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;
use tracing::{error, info};

pub use assets::{Melody, MelodyLoader, MelodyLoaderError, Moods, MoodsLoader, MoodsLoaderError};
pub use audio::{
    AudioOutput, AudioSettings, LeitmotifAudio, MuteMusic, PauseMusic, ResumeMusic, SetInstrument,
    SetLayerVolume, SetMasterVolume, SetSoundFont, SoundFontAsset, SoundFontLoader,
    SoundFontLoaderError,
};
pub use leitmotif_compose::{KeyRule, TempoRule, Transition};
pub use leitmotif_player::{BuiltIn, InstrumentChoice, Part, PerPart};
pub use messages::{
    BarTick, BeatTick, ExportDone, ExportSession, FireStinger, LockChords, LockKey, LockTempo,
    PhraseFailed, PhraseLate, PhraseStarted, PlayCue, PlayTheme, PrimeWith, RegisterTheme,
    SetGameState, SetIntensity, StingerStarted, TransitionDone,
};
pub use status::{
    AudioStatus, DirectorStatus, LeitmotifStatus, LeitmotifStatusChanged, ModelStatus, MoodsStatus,
};
pub use systems::LeitmotifTimings;

/// Adds Leitmotif to an app: messages, the `*.moods.ron` and melody asset loaders, the
/// [`MusicDirector`], and the systems in [`LeitmotifSystems`].
#[derive(Debug, Clone)]
pub struct LeitmotifPlugin {
    /// The model: the embedded transformer by default.
    pub model: ModelSource,
    /// Where the model runs. `Auto` (the default): Bevy's own render device when the app
    /// renders on graphics hardware (with this crate's `render` feature), else a hardware
    /// GPU of the model's own, else the CPU. `Wgpu`: Bevy's render device whatever its
    /// adapter, else any wgpu adapter. `Cpu`: the CPU.
    pub backend: BackendChoice,
    /// The director's settings (phrase length, look-ahead, smoothing, seed, first state).
    pub director: DirectorSettings,
    /// A mood table asset to load and hot-reload (`"music/game.moods.ron"`); `None` uses
    /// the embedded default table.
    pub moods: Option<String>,
    /// Offline rendering: finish every phrase in the frame that asks for it instead of on
    /// the task pool's time. Makes a session independent of machine speed (for exports,
    /// soundtracks rendered ahead and tests); a game leaves this off so no frame waits.
    pub wait_for_phrases: bool,
    /// Playback through kira: on the audio device by default (the musical clock then
    /// follows what is heard), offline, or off; volumes, instruments, a SoundFont.
    pub audio: AudioSettings,
}

impl Default for LeitmotifPlugin {
    fn default() -> Self {
        Self {
            model: ModelSource::DefaultTransformer,
            backend: BackendChoice::Auto,
            director: DirectorSettings::default(),
            moods: None,
            wait_for_phrases: false,
            audio: AudioSettings::default(),
        }
    }
}

/// The plugin's systems, all in `Update`, in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeitmotifSystems {
    /// Reads the input messages ([`SetGameState`], [`SetIntensity`], [`FireStinger`],
    /// [`LockKey`], [`LockTempo`], [`LockChords`], [`ExportSession`], [`PlayCue`], [`PrimeWith`], and the
    /// playback messages [`MuteMusic`], [`PauseMusic`], [`ResumeMusic`],
    /// [`SetMasterVolume`], [`SetLayerVolume`], [`SetInstrument`], [`SetSoundFont`]) and
    /// mood-table reloads. Write those
    /// messages before this set to have them act in the same frame.
    Input,
    /// Starts composing the phrases the director asks for and collects finished ones.
    Compose,
    /// Sends the music ahead to the audio thread, advances the musical clock by the time
    /// heard (with sound; else by the frame's time) and writes [`BeatTick`], [`BarTick`],
    /// [`PhraseStarted`], [`TransitionDone`], [`StingerStarted`], [`PhraseLate`] and
    /// [`PhraseFailed`] (each with its tick and the seconds into the frame where that tick
    /// falls), and [`LeitmotifStatusChanged`]. Read those after this set.
    Clock,
}

/// The music director: the musical clock (tempo, meter, bar, beat, tick), the current and
/// next phrase, and the whole session so far.
#[derive(Resource)]
pub struct MusicDirector {
    director: Director,
    wait_for_phrases: bool,
}

impl MusicDirector {
    /// The director (clock, state, phrases, session).
    pub fn director(&self) -> &Director {
        &self.director
    }

    /// The director, for direct control.
    pub fn director_mut(&mut self) -> &mut Director {
        &mut self.director
    }
}

/// The composer, shared with the composing tasks.
#[derive(Resource, Clone)]
pub struct ComposerHandle(pub Arc<Composer>);

/// The mood table asset the director follows: inserted by the plugin when
/// [`LeitmotifPlugin::moods`] names a file, or by the game for a table it loaded or built
/// itself. Every load and edit of it (hot reload) reaches the director.
#[derive(Resource, Debug, Clone)]
pub struct WatchedMoods(pub Handle<Moods>);

impl Plugin for LeitmotifPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<SetGameState>()
            .add_message::<SetIntensity>()
            .add_message::<FireStinger>()
            .add_message::<LockKey>()
            .add_message::<LockTempo>()
            .add_message::<LockChords>()
            .add_message::<ExportSession>()
            .add_message::<PlayCue>()
            .add_message::<PrimeWith>()
            .add_message::<RegisterTheme>()
            .add_message::<PlayTheme>()
            .add_message::<BeatTick>()
            .add_message::<BarTick>()
            .add_message::<PhraseStarted>()
            .add_message::<TransitionDone>()
            .add_message::<StingerStarted>()
            .add_message::<PhraseLate>()
            .add_message::<PhraseFailed>()
            .add_message::<ExportDone>()
            .add_message::<LeitmotifStatusChanged>()
            .init_resource::<LeitmotifStatus>()
            .init_asset::<Moods>()
            .init_asset::<Melody>()
            .register_asset_loader(MoodsLoader)
            .register_asset_loader(MelodyLoader)
            .add_message::<MuteMusic>()
            .add_message::<PauseMusic>()
            .add_message::<ResumeMusic>()
            .add_message::<SetMasterVolume>()
            .add_message::<SetLayerVolume>()
            .add_message::<SetInstrument>()
            .add_message::<SetSoundFont>()
            .init_asset::<SoundFontAsset>()
            .register_asset_loader(SoundFontLoader)
            .init_resource::<audio::AudioClock>()
            .init_resource::<audio::ClockHeld>()
            .init_resource::<systems::Pending>()
            .init_resource::<systems::WaitingMelodies>()
            .init_resource::<LeitmotifTimings>()
            .configure_sets(
                Update,
                (
                    LeitmotifSystems::Input,
                    LeitmotifSystems::Compose,
                    LeitmotifSystems::Clock,
                )
                    .chain(),
            )
            .add_systems(
                Update,
                (
                    systems::read_input.in_set(LeitmotifSystems::Input),
                    audio::read_audio_input.in_set(LeitmotifSystems::Input),
                    systems::compose_phrases.in_set(LeitmotifSystems::Compose),
                    audio::play_music
                        .in_set(LeitmotifSystems::Clock)
                        .before(systems::advance_clock),
                    systems::advance_clock.in_set(LeitmotifSystems::Clock),
                ),
            );
        if let Some(path) = self.audio.soundfont.clone().filter(|_| self.audio.enabled) {
            app.add_systems(Startup, audio::load_soundfont(path));
        }
        if let Some(path) = &self.moods {
            let path = path.clone();
            app.add_systems(
                Startup,
                move |mut commands: Commands, server: Res<AssetServer>| {
                    commands.insert_resource(WatchedMoods(server.load(path.clone())));
                },
            );
        }
    }

    fn finish(&self, app: &mut App) {
        // The default table is replaced by the asset once it loads.
        let table = match MoodTable::default_table() {
            Ok(table) => table,
            Err(e) => {
                error!("leitmotif: the embedded mood table is broken: {e}");
                set_status(app, |s| {
                    s.director = DirectorStatus::Failed {
                        message: format!("the embedded mood table is broken: {e}"),
                    };
                });
                return;
            }
        };
        match Director::new(self.director.clone(), table) {
            Ok(director) => {
                app.insert_resource(MusicDirector {
                    director,
                    wait_for_phrases: self.wait_for_phrases,
                });
                set_status(app, |s| s.director = DirectorStatus::Running);
                audio::setup(app, &self.audio);
            }
            Err(e) => {
                error!("leitmotif: bad director settings: {e}");
                set_status(app, |s| {
                    s.director = DirectorStatus::Failed {
                        message: format!("bad director settings: {e}"),
                    };
                });
                return;
            }
        }
        // Device-dependent: load the model on Bevy's render device, its own, or the CPU.
        if device::render_device_pending(app) {
            app.insert_resource(LoadInCleanup);
        } else {
            self.load_model(app);
        }
    }

    fn cleanup(&self, app: &mut App) {
        if app.world_mut().remove_resource::<LoadInCleanup>().is_some() {
            self.load_model(app);
        }
    }
}

/// Marks a model load put off until `cleanup` (the render device comes later).
#[derive(Resource)]
struct LoadInCleanup;

impl LeitmotifPlugin {
    fn load_model(&self, app: &mut App) {
        match device::load_composer(app, &self.model, self.backend) {
            Ok(composer) => {
                info!(
                    "leitmotif: model {} on {}",
                    composer.model_id(),
                    composer.backend()
                );
                set_status(app, |s| {
                    s.model = ModelStatus::Ready {
                        model: composer.model_id().to_owned(),
                        backend: composer.backend().to_owned(),
                    };
                });
                app.insert_resource(ComposerHandle(Arc::new(composer)));
            }
            Err(e) => {
                error!("leitmotif: cannot load the model: {e}");
                set_status(app, |s| {
                    s.model = ModelStatus::Failed {
                        message: e.to_string(),
                    };
                });
            }
        }
    }
}

/// Updates the [`LeitmotifStatus`] while the app is being built (the game hears of it in
/// the first frame, through [`LeitmotifStatusChanged`]).
fn set_status(app: &mut App, change: impl FnOnce(&mut LeitmotifStatus)) {
    change(&mut app.world_mut().get_resource_or_init::<LeitmotifStatus>());
}
