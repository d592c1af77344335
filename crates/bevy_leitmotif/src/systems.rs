//! The plugin's three systems, one per [`LeitmotifSystems`](crate::LeitmotifSystems) phase
//! (each system is a hop through the executor, so there are no more than three), and the
//! timing of their work on the frame.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::asset::{AssetEvent, AssetLoadFailedEvent, AssetServer, Assets, Handle, LoadState};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::tasks::futures::check_ready;
use bevy::tasks::{AsyncComputeTaskPool, IoTaskPool, Task};
use leitmotif_compose::{ComposeError, Composition};
use leitmotif_director::{Director, DirectorError, DirectorEvent};
use leitmotif_score::MelodyDocument;
use tracing::{info, warn};

use crate::status::{LeitmotifStatus, LeitmotifStatusChanged, MoodsStatus};
use crate::{
    BarTick, BeatTick, ComposerHandle, ExportDone, ExportSession, FireStinger, LockChords, LockKey,
    LockTempo, Melody, Moods, MusicDirector, PhraseFailed, PhraseLate, PhraseStarted, PlayCue,
    PlayTheme, PrimeWith, RegisterTheme, SetGameState, SetIntensity, StingerStarted,
    TransitionDone, WatchedMoods,
};

/// How long the plugin's systems worked in each frame (their bodies, on whichever thread
/// the executor ran them): for a game's own profiling overlay, and the frame-cost benchmark.
#[derive(Resource, Debug, Clone, Default)]
pub struct LeitmotifTimings {
    /// Frames counted.
    pub frames: u64,
    /// The work in the last frame.
    pub last: Duration,
    /// The work in all frames counted.
    pub total: Duration,
    /// The most in one frame.
    pub max: Duration,
    /// Phrases being composed on the task pool at the end of the last frame.
    pub composing: usize,
    /// Work in the frame in progress.
    current: Duration,
}

impl LeitmotifTimings {
    /// The mean work per frame.
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.frames) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.total / n,
            Err(_) => self.total.div_f64(self.frames as f64),
        }
    }

    pub(crate) fn add(&mut self, started: Instant) {
        self.current += started.elapsed();
    }

    fn end_frame(&mut self, started: Instant) {
        self.add(started);
        self.last = std::mem::take(&mut self.current);
        self.total += self.last;
        self.max = self.max.max(self.last);
        self.frames += 1;
    }
}

/// A phrase being composed on the task pool.
type Composing = Task<Result<Composition, ComposeError>>;

/// Phrases being composed: job id and task.
#[derive(Resource, Default)]
pub(crate) struct Pending(Vec<(u64, Composing)>);

/// A melody message waiting for its asset.
enum WaitingMelody {
    Cue(PlayCue),
    Theme(Option<Handle<Melody>>),
    /// A theme to register once its melody loads.
    Register(RegisterTheme),
    /// A theme to call, after the registrations asked for before it.
    Play(PlayTheme),
}

/// Cues and themes whose melodies are still loading, in the order they were asked for.
#[derive(Resource, Default)]
pub(crate) struct WaitingMelodies(Vec<WaitingMelody>);

/// Session exports being written on the IO task pool.
#[derive(Default)]
pub(crate) struct Exporting(Vec<Task<ExportDone>>);

/// The input messages.
#[derive(SystemParam)]
pub(crate) struct Inputs<'w, 's> {
    states: MessageReader<'w, 's, SetGameState>,
    intensity: MessageReader<'w, 's, SetIntensity>,
    stingers: MessageReader<'w, 's, FireStinger>,
    keys: MessageReader<'w, 's, LockKey>,
    tempos: MessageReader<'w, 's, LockTempo>,
    chords: MessageReader<'w, 's, LockChords>,
    exports: MessageReader<'w, 's, ExportSession>,
    cues: MessageReader<'w, 's, PlayCue>,
    themes: MessageReader<'w, 's, PrimeWith>,
    register: MessageReader<'w, 's, RegisterTheme>,
    play: MessageReader<'w, 's, PlayTheme>,
    done: MessageWriter<'w, ExportDone>,
    exporting: Local<'s, Exporting>,
}

/// The assets the director follows: the watched mood table and the melodies.
#[derive(SystemParam)]
pub(crate) struct MusicAssets<'w, 's> {
    watched: Option<Res<'w, WatchedMoods>>,
    mood_events: MessageReader<'w, 's, AssetEvent<Moods>>,
    mood_failures: MessageReader<'w, 's, AssetLoadFailedEvent<Moods>>,
    moods: Res<'w, Assets<Moods>>,
    status: ResMut<'w, LeitmotifStatus>,
    melodies: Res<'w, Assets<Melody>>,
    server: Option<Res<'w, AssetServer>>,
    waiting: ResMut<'w, WaitingMelodies>,
}

/// [`LeitmotifSystems::Input`](crate::LeitmotifSystems::Input): applies the input messages,
/// mood-table loads and edits (hot reload), and cues and themes whose melodies have loaded.
pub(crate) fn read_input(
    director: Option<ResMut<MusicDirector>>,
    mut input: Inputs,
    mut assets: MusicAssets,
    mut timings: ResMut<LeitmotifTimings>,
) {
    let started = Instant::now();
    // Exports asked for in earlier frames that are written by now.
    let done = &mut input.done;
    input.exporting.0.retain_mut(|task| {
        let finished = check_ready(task);
        let running = finished.is_none();
        if let Some(finished) = finished {
            done.write(finished);
        }
        running
    });
    let waiting = &mut assets.waiting.0;
    waiting.extend(input.cues.read().cloned().map(WaitingMelody::Cue));
    waiting.extend(
        input
            .themes
            .read()
            .map(|t| WaitingMelody::Theme(t.0.clone())),
    );
    waiting.extend(input.register.read().cloned().map(WaitingMelody::Register));
    waiting.extend(input.play.read().cloned().map(WaitingMelody::Play));
    let Some(mut director) = director else {
        return;
    };
    let wait = director.wait_for_phrases;
    let d = &mut director.director;
    for SetGameState(name) in input.states.read() {
        if let Err(e) = d.set_state(name) {
            warn!("leitmotif: {e}");
        }
    }
    if let Some(SetIntensity(value)) = input.intensity.read().last() {
        d.set_intensity(*value);
    }
    for FireStinger(name) in input.stingers.read() {
        if let Err(e) = d.stinger(name) {
            warn!("leitmotif: {e}");
        }
    }
    for LockKey(key) in input.keys.read() {
        d.lock_key(*key);
    }
    for LockTempo(bpm) in input.tempos.read() {
        if let Err(e) = d.lock_tempo(*bpm) {
            warn!("leitmotif: {e}");
        }
    }
    for LockChords(chords) in input.chords.read() {
        if let Err(e) = d.lock_chords(chords.clone()) {
            warn!("leitmotif: {e}");
        }
    }
    for export in input.exports.read() {
        let dir = export.dir.clone();
        let docs = d.export_documents(&dir, &export.name);
        let mut task = IoTaskPool::get().spawn(async move { write_export(dir, &docs) });
        if wait {
            input.done.write(bevy::tasks::block_on(&mut task));
        } else {
            input.exporting.0.push(task);
        }
    }
    apply_moods(&mut director, &mut assets);
    apply_melodies(&mut director, &mut assets);
    timings.add(started);
}

/// Writes a session export's files (on the IO task pool): what
/// [`Director::export`] does with the documents it snapshots.
fn write_export(dir: PathBuf, docs: &[(PathBuf, MelodyDocument)]) -> ExportDone {
    let written = std::fs::create_dir_all(&dir)
        .map_err(|source| DirectorError::Io {
            path: dir.clone(),
            source,
        })
        .and_then(|()| Ok(leitmotif_score::files::write_engine_files(docs)?));
    match written {
        Ok(files) => ExportDone {
            dir,
            files,
            error: None,
        },
        Err(e) => {
            warn!("leitmotif: export failed: {e}");
            ExportDone {
                dir,
                files: Vec::new(),
                error: Some(e.to_string()),
            }
        }
    }
}

/// Hands a loaded or edited mood table to the director (hot reload), and tells the game
/// through [`LeitmotifStatus`] which table is in force or why the watched one is not.
fn apply_moods(director: &mut MusicDirector, assets: &mut MusicAssets) {
    let Some(handle) = &assets.watched else {
        assets.mood_events.clear();
        assets.mood_failures.clear();
        return;
    };
    let path = || handle.0.path().map(ToString::to_string);
    for failure in assets.mood_failures.read() {
        if failure.id == handle.0.id() {
            warn!(
                "leitmotif: mood table {} failed to load: {}",
                failure.path, failure.error
            );
            assets.status.moods = MoodsStatus::Failed {
                path: Some(failure.path.to_string()),
                message: failure.error.to_string(),
            };
        }
    }
    for event in assets.mood_events.read() {
        let changed = matches!(event,
            AssetEvent::Added { id } | AssetEvent::Modified { id } if *id == handle.0.id());
        if changed && let Some(Moods(table)) = assets.moods.get(&handle.0) {
            assets.status.moods = match director.director.set_table(table.clone()) {
                Ok(()) => {
                    info!("leitmotif: mood table (re)loaded");
                    MoodsStatus::Loaded { path: path() }
                }
                Err(e) => {
                    warn!("leitmotif: mood table rejected: {e}");
                    MoodsStatus::Failed {
                        path: path(),
                        message: e.to_string(),
                    }
                }
            };
        }
    }
}

/// Hands [`PlayCue`], [`PrimeWith`] and [`RegisterTheme`] melodies to the director once
/// they are loaded, and [`PlayTheme`] calls, in the order they were asked for (a failed
/// load is skipped with a warning).
fn apply_melodies(director: &mut MusicDirector, assets: &mut MusicAssets) {
    let waiting = &mut assets.waiting.0;
    while let Some(first) = waiting.first() {
        let handle = match first {
            WaitingMelody::Cue(cue) => &cue.melody,
            WaitingMelody::Register(theme) => &theme.melody,
            WaitingMelody::Play(play) => {
                if let Err(e) = director.director.play_theme(&play.name, play.transition) {
                    warn!("leitmotif: {e}");
                }
                waiting.remove(0);
                continue;
            }
            WaitingMelody::Theme(Some(handle)) => handle,
            WaitingMelody::Theme(None) => {
                if let Err(e) = director.director.prime(None) {
                    warn!("leitmotif: {e}");
                }
                waiting.remove(0);
                continue;
            }
        };
        let Some(Melody(score)) = assets.melodies.get(handle) else {
            let failed = assets.server.as_deref().is_some_and(|server| {
                matches!(server.load_state(handle.id()), LoadState::Failed(_))
            });
            if !failed {
                return;
            }
            warn!(
                "leitmotif: melody {:?} did not load; skipped",
                handle.path()
            );
            waiting.remove(0);
            continue;
        };
        let result = match first {
            WaitingMelody::Cue(cue) if cue.harmonize => director
                .director
                .harmonized(score)
                .and_then(|score| {
                    director
                        .director
                        .play_cue(&cue.name, &score, cue.transition)
                })
                .map(drop),
            WaitingMelody::Cue(cue) => director
                .director
                .play_cue(&cue.name, score, cue.transition)
                .map(drop),
            WaitingMelody::Register(theme) => director.director.register_theme(&theme.name, score),
            WaitingMelody::Theme(_) => director.director.prime(Some(score.clone())),
            // Called above, without waiting for an asset.
            WaitingMelody::Play(_) => Ok(()),
        };
        if let Err(e) = result {
            warn!("leitmotif: melody {:?} refused: {e}", handle.path());
        }
        waiting.remove(0);
    }
}

/// [`LeitmotifSystems::Compose`](crate::LeitmotifSystems::Compose): starts a task for every
/// phrase the director asks for and delivers finished ones.
pub(crate) fn compose_phrases(
    director: Option<ResMut<MusicDirector>>,
    composer: Option<Res<ComposerHandle>>,
    mut pending: ResMut<Pending>,
    mut timings: ResMut<LeitmotifTimings>,
) {
    let started = Instant::now();
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
    let mut i = 0;
    while i < pending.0.len() {
        let (id, task) = &mut pending.0[i];
        let id = *id;
        let result = if wait {
            Some(bevy::tasks::block_on(task))
        } else {
            check_ready(task)
        };
        let Some(result) = result else {
            i += 1;
            continue;
        };
        drop(pending.0.remove(i));
        match result {
            Ok(composition) => {
                if let Err(e) = director.director.deliver(id, composition) {
                    warn!("leitmotif: phrase {id} rejected: {e}");
                }
            }
            Err(e) => {
                warn!("leitmotif: phrase {id} failed: {e}");
                director.director.fail(id, &e.to_string());
            }
        }
    }
    timings.composing = pending.0.len();
    timings.add(started);
}

/// The output messages, and the status last reported.
#[derive(SystemParam)]
pub(crate) struct Outputs<'w, 's> {
    beats: MessageWriter<'w, BeatTick>,
    bars: MessageWriter<'w, BarTick>,
    phrases: MessageWriter<'w, PhraseStarted>,
    transitions: MessageWriter<'w, TransitionDone>,
    stingers: MessageWriter<'w, StingerStarted>,
    late: MessageWriter<'w, PhraseLate>,
    failed: MessageWriter<'w, PhraseFailed>,
    status: Res<'w, LeitmotifStatus>,
    status_changes: MessageWriter<'w, LeitmotifStatusChanged>,
    reported: Local<'s, Option<LeitmotifStatus>>,
}

/// Where the musical clock stood when the frame's advance began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameStart {
    /// The director's seconds.
    seconds: f64,
    /// The director's tick.
    tick: u64,
}

impl FrameStart {
    /// The clock of `director` now, before it advances.
    pub(crate) fn of(director: &Director) -> Self {
        Self {
            seconds: director.seconds(),
            tick: director.tick(),
        }
    }
}

impl Outputs<'_, '_> {
    /// Writes the director's `events` as the game's messages, each with its tick and the
    /// seconds after the frame's start at which that tick falls on the director's clock.
    fn forward(&mut self, director: &Director, frame: FrameStart, events: Vec<DirectorEvent>) {
        let clock = director.clock();
        let offset = |tick: u64| (clock.seconds_at(tick) - frame.seconds).max(0.0);
        for event in events {
            match event {
                DirectorEvent::Beat {
                    bar,
                    beat,
                    bpm,
                    meter,
                    tick,
                } => {
                    self.beats.write(BeatTick {
                        bar: bar as u32,
                        beat,
                        bpm,
                        meter,
                        tick,
                        frame_offset: offset(tick),
                    });
                }
                DirectorEvent::Bar { bar, tick } => {
                    self.bars.write(BarTick {
                        bar: bar as u32,
                        tick,
                        frame_offset: offset(tick),
                    });
                }
                DirectorEvent::PhraseStarted {
                    state, bar, tick, ..
                } => {
                    self.phrases.write(PhraseStarted {
                        state,
                        bar: bar as u32,
                        tick,
                        frame_offset: offset(tick),
                    });
                }
                DirectorEvent::TransitionDone {
                    from,
                    to,
                    bar,
                    tick,
                    crossfade_beats,
                } => {
                    self.transitions.write(TransitionDone {
                        from,
                        to,
                        bar: bar as u32,
                        crossfade_beats,
                        tick,
                        frame_offset: offset(tick),
                    });
                }
                DirectorEvent::StingerStarted {
                    name,
                    bar,
                    beat,
                    tick,
                    ..
                } => {
                    self.stingers.write(StingerStarted {
                        name,
                        bar: bar as u32,
                        beat,
                        tick,
                        frame_offset: offset(tick),
                    });
                }
                DirectorEvent::PhraseLate {
                    state, bar, tick, ..
                } => {
                    self.late.write(PhraseLate {
                        state,
                        bar: bar as u32,
                        tick,
                        frame_offset: offset(tick),
                    });
                }
                DirectorEvent::PhraseFailed { state, message, .. } => {
                    self.failed.write(PhraseFailed {
                        state,
                        message,
                        tick: frame.tick,
                        frame_offset: 0.0,
                    });
                }
            }
        }
    }

    /// Sends [`LeitmotifStatusChanged`] when the status differs from the one last sent
    /// (and in the first frame).
    fn report_status(&mut self) {
        if self.reported.as_ref() != Some(&*self.status) {
            let status = self.status.clone();
            *self.reported = Some(status.clone());
            self.status_changes.write(LeitmotifStatusChanged(status));
        }
    }
}

/// [`LeitmotifSystems::Clock`](crate::LeitmotifSystems::Clock): advances the clock by the
/// frame's time and writes the output messages.
pub(crate) fn advance_clock(
    time: Res<Time>,
    audio_clock: Res<crate::audio::AudioClock>,
    director: Option<ResMut<MusicDirector>>,
    mut out: Outputs,
    mut timings: ResMut<LeitmotifTimings>,
) {
    let started = Instant::now();
    let Some(mut director) = director else {
        out.report_status();
        return;
    };
    let frame = FrameStart::of(&director.director);
    // With sound, the step the audio heard (see `audio::play_music`); else frame time.
    let step = audio_clock.step.unwrap_or_else(|| time.delta_secs_f64());
    let events = director.director.advance(step);
    out.forward(&director.director, frame, events);
    out.report_status();
    timings.end_frame(started);
}
