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

mod assets;
mod device;
mod messages;
mod systems;

use std::sync::Arc;

use bevy::asset::{AssetApp, Handle};
use bevy::prelude::*;
use leitmotif_compose::{Composer, MoodTable};
use leitmotif_director::{Director, DirectorSettings};
use leitmotif_model::BackendChoice;
use leitmotif_train::ModelSource;
use tracing::{error, info};

pub use assets::{Melody, MelodyLoader, MelodyLoaderError, Moods, MoodsLoader, MoodsLoaderError};
pub use leitmotif_compose::Transition;
pub use messages::{
    BarTick, BeatTick, ExportDone, ExportSession, FireStinger, LockKey, LockTempo, PhraseStarted,
    PlayCue, PrimeWith, SetGameState, SetIntensity, TransitionDone,
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
}

impl Default for LeitmotifPlugin {
    fn default() -> Self {
        Self {
            model: ModelSource::DefaultTransformer,
            backend: BackendChoice::Auto,
            director: DirectorSettings::default(),
            moods: None,
            wait_for_phrases: false,
        }
    }
}

/// The plugin's systems, all in `Update`, in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeitmotifSystems {
    /// Reads the input messages ([`SetGameState`], [`SetIntensity`], [`FireStinger`],
    /// [`LockKey`], [`LockTempo`], [`ExportSession`], [`PlayCue`], [`PrimeWith`]) and
    /// mood-table reloads. Write those
    /// messages before this set to have them act in the same frame.
    Input,
    /// Starts composing the phrases the director asks for and collects finished ones.
    Compose,
    /// Advances the musical clock by the frame's time and writes [`BeatTick`], [`BarTick`],
    /// [`PhraseStarted`] and [`TransitionDone`]. Read those after this set.
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
            .add_message::<ExportSession>()
            .add_message::<PlayCue>()
            .add_message::<PrimeWith>()
            .add_message::<BeatTick>()
            .add_message::<BarTick>()
            .add_message::<PhraseStarted>()
            .add_message::<TransitionDone>()
            .add_message::<ExportDone>()
            .init_asset::<Moods>()
            .init_asset::<Melody>()
            .register_asset_loader(MoodsLoader)
            .register_asset_loader(MelodyLoader)
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
                    systems::compose_phrases.in_set(LeitmotifSystems::Compose),
                    systems::advance_clock.in_set(LeitmotifSystems::Clock),
                ),
            );
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
                return;
            }
        };
        match Director::new(self.director.clone(), table) {
            Ok(director) => {
                app.insert_resource(MusicDirector {
                    director,
                    wait_for_phrases: self.wait_for_phrases,
                });
            }
            Err(e) => {
                error!("leitmotif: bad director settings: {e}");
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
                app.insert_resource(ComposerHandle(Arc::new(composer)));
            }
            Err(e) => error!("leitmotif: cannot load the model: {e}"),
        }
    }
}
