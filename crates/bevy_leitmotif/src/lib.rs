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

mod assets;
mod messages;

use std::sync::Arc;

use bevy::asset::{AssetApp, AssetEvent, Assets, Handle};
use bevy::prelude::*;
use bevy::tasks::futures::check_ready;
use bevy::tasks::{AsyncComputeTaskPool, Task};
use leitmotif_compose::{ComposeError, Composer, Composition, MoodTable};
use leitmotif_director::{Director, DirectorEvent, DirectorSettings};
use leitmotif_model::BackendChoice;
use leitmotif_train::ModelSource;
use tracing::{error, info, warn};

pub use assets::{Melody, MelodyLoader, MelodyLoaderError, Moods, MoodsLoader, MoodsLoaderError};
pub use messages::{
    BarTick, BeatTick, ExportDone, ExportSession, FireStinger, LockKey, LockTempo, PhraseStarted,
    SetGameState, SetIntensity, TransitionDone,
};

/// Adds Leitmotif to an app: messages, the `*.moods.ron` and melody asset loaders, the
/// [`MusicDirector`], and the systems in [`LeitmotifSystems`].
#[derive(Debug, Clone)]
pub struct LeitmotifPlugin {
    /// The model: the embedded transformer by default.
    pub model: ModelSource,
    /// Where the model runs: a hardware GPU if there is one, else the CPU.
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
    /// [`LockKey`], [`LockTempo`], [`ExportSession`]) and mood-table reloads. Write those
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

/// A phrase being composed on the task pool.
type Composing = Task<Result<Composition, ComposeError>>;

/// Phrases being composed: job id and task.
#[derive(Resource, Default)]
struct Pending(Vec<(u64, Composing)>);

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
            .add_message::<BeatTick>()
            .add_message::<BarTick>()
            .add_message::<PhraseStarted>()
            .add_message::<TransitionDone>()
            .add_message::<ExportDone>()
            .init_asset::<Moods>()
            .init_asset::<Melody>()
            .register_asset_loader(MoodsLoader)
            .register_asset_loader(MelodyLoader)
            .init_resource::<Pending>()
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
                    (read_input, apply_moods).in_set(LeitmotifSystems::Input),
                    compose_phrases.in_set(LeitmotifSystems::Compose),
                    advance_clock.in_set(LeitmotifSystems::Clock),
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
        // Device-dependent: load the model on the chosen backend.
        match Composer::load(&self.model, self.backend) {
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

/// Applies the input messages.
#[expect(clippy::too_many_arguments, reason = "one reader per input message")]
fn read_input(
    director: Option<ResMut<MusicDirector>>,
    mut states: MessageReader<SetGameState>,
    mut intensity: MessageReader<SetIntensity>,
    mut stingers: MessageReader<FireStinger>,
    mut keys: MessageReader<LockKey>,
    mut tempos: MessageReader<LockTempo>,
    mut exports: MessageReader<ExportSession>,
    mut done: MessageWriter<ExportDone>,
) {
    let Some(mut director) = director else {
        return;
    };
    let d = &mut director.director;
    for SetGameState(name) in states.read() {
        if let Err(e) = d.set_state(name) {
            warn!("leitmotif: {e}");
        }
    }
    if let Some(SetIntensity(value)) = intensity.read().last() {
        d.set_intensity(*value);
    }
    for FireStinger(name) in stingers.read() {
        if let Err(e) = d.stinger(name) {
            warn!("leitmotif: {e}");
        }
    }
    for LockKey(key) in keys.read() {
        d.lock_key(*key);
    }
    for LockTempo(bpm) in tempos.read() {
        if let Err(e) = d.lock_tempo(*bpm) {
            warn!("leitmotif: {e}");
        }
    }
    for export in exports.read() {
        match d.export(&export.dir, &export.name) {
            Ok(files) => {
                done.write(ExportDone { files, error: None });
            }
            Err(e) => {
                warn!("leitmotif: export failed: {e}");
                done.write(ExportDone {
                    files: Vec::new(),
                    error: Some(e.to_string()),
                });
            }
        }
    }
}

/// Hands a loaded or edited mood table to the director (hot reload).
fn apply_moods(
    handle: Option<Res<WatchedMoods>>,
    mut events: MessageReader<AssetEvent<Moods>>,
    moods: Res<Assets<Moods>>,
    director: Option<ResMut<MusicDirector>>,
) {
    let (Some(handle), Some(mut director)) = (handle, director) else {
        return;
    };
    for event in events.read() {
        let changed = matches!(event,
            AssetEvent::Added { id } | AssetEvent::Modified { id } if *id == handle.0.id());
        if changed && let Some(Moods(table)) = moods.get(&handle.0) {
            match director.director.set_table(table.clone()) {
                Ok(()) => info!("leitmotif: mood table (re)loaded"),
                Err(e) => warn!("leitmotif: mood table rejected: {e}"),
            }
        }
    }
}

/// Starts a task for every phrase the director asks for and delivers finished ones.
fn compose_phrases(
    director: Option<ResMut<MusicDirector>>,
    composer: Option<Res<ComposerHandle>>,
    mut pending: ResMut<Pending>,
) {
    let (Some(mut director), Some(composer)) = (director, composer) else {
        return;
    };
    let pool = AsyncComputeTaskPool::get();
    while let Some(job) = director.director.poll_job() {
        let composer = Arc::clone(&composer.0);
        let request = job.request;
        let task = pool.spawn(async move { composer.compose(&request) });
        pending.0.push((job.id, task));
    }
    let wait = director.wait_for_phrases;
    let mut still = Vec::new();
    for (id, mut task) in pending.0.drain(..) {
        let result = if wait {
            Some(bevy::tasks::block_on(&mut task))
        } else {
            check_ready(&mut task)
        };
        match result {
            Some(Ok(composition)) => {
                if let Err(e) = director.director.deliver(id, composition) {
                    warn!("leitmotif: phrase {id} rejected: {e}");
                }
            }
            Some(Err(e)) => {
                warn!("leitmotif: phrase {id} failed: {e}");
                director.director.fail(id, &e.to_string());
            }
            None => still.push((id, task)),
        }
    }
    pending.0 = still;
}

/// Advances the clock and writes the output messages.
fn advance_clock(
    time: Res<Time>,
    director: Option<ResMut<MusicDirector>>,
    mut beats: MessageWriter<BeatTick>,
    mut bars: MessageWriter<BarTick>,
    mut phrases: MessageWriter<PhraseStarted>,
    mut transitions: MessageWriter<TransitionDone>,
) {
    let Some(mut director) = director else {
        return;
    };
    for event in director.director.advance(time.delta_secs_f64()) {
        match event {
            DirectorEvent::Beat {
                bar,
                beat,
                bpm,
                meter,
                ..
            } => {
                beats.write(BeatTick {
                    bar: bar as u32,
                    beat,
                    bpm,
                    meter,
                });
            }
            DirectorEvent::Bar { bar, .. } => {
                bars.write(BarTick { bar: bar as u32 });
            }
            DirectorEvent::PhraseStarted { state, bar, .. } => {
                phrases.write(PhraseStarted {
                    state,
                    bar: bar as u32,
                });
            }
            DirectorEvent::TransitionDone { from, to, bar, .. } => {
                transitions.write(TransitionDone {
                    from,
                    to,
                    bar: bar as u32,
                });
            }
            _ => {}
        }
    }
}
