//! What the plugin tells the game, in a headless App (`MinimalPlugins`,
//! `TimeUpdateStrategy::ManualDuration`): every director event as a message with its tick
//! and its time within the frame, session exports written on the IO task pool, and the
//! status of the model and the mood table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{
    AudioSettings, BarTick, BeatTick, ComposerHandle, DirectorStatus, ExportDone, ExportSession,
    FireStinger, LeitmotifPlugin, LeitmotifStatus, LeitmotifStatusChanged, LeitmotifSystems,
    LockChords, ModelStatus, MoodsStatus, MusicDirector, PhraseFailed, PhraseLate, PhraseStarted,
    SetGameState, StingerStarted, TransitionDone,
};
use leitmotif_director::{Director, DirectorSettings, MusicClock};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;

/// Frames per second: not a divisor of any beat's length, so beats fall inside frames.
const FPS: f64 = 47.0;

/// The director's clock when a frame's advance began and when it ended.
#[derive(Debug, Clone, Copy, Default)]
struct Frame {
    index: u64,
    start: f64,
    end: f64,
    start_tick: u64,
}

/// Everything the plugin said, each with the frame it came in.
#[derive(Resource, Default)]
struct Heard {
    frame: Frame,
    beats: Vec<(BeatTick, Frame)>,
    bars: Vec<(BarTick, Frame)>,
    phrases: Vec<(PhraseStarted, Frame)>,
    transitions: Vec<(TransitionDone, Frame)>,
    stingers: Vec<(StingerStarted, Frame)>,
    late: Vec<(PhraseLate, Frame)>,
    failed: Vec<(PhraseFailed, Frame)>,
    exports: Vec<(ExportDone, Frame)>,
    status: Vec<(LeitmotifStatusChanged, Frame)>,
}

/// Before the clock advances: where it stands at the frame's start.
fn frame_start(mut heard: ResMut<Heard>, director: Option<Res<MusicDirector>>) {
    heard.frame.index += 1;
    if let Some(d) = director {
        heard.frame.start = d.director().seconds();
        heard.frame.start_tick = d.director().tick();
    }
}

#[derive(bevy::ecs::system::SystemParam)]
struct Readers<'w, 's> {
    beats: MessageReader<'w, 's, BeatTick>,
    bars: MessageReader<'w, 's, BarTick>,
    phrases: MessageReader<'w, 's, PhraseStarted>,
    transitions: MessageReader<'w, 's, TransitionDone>,
    stingers: MessageReader<'w, 's, StingerStarted>,
    late: MessageReader<'w, 's, PhraseLate>,
    failed: MessageReader<'w, 's, PhraseFailed>,
    exports: MessageReader<'w, 's, ExportDone>,
    status: MessageReader<'w, 's, LeitmotifStatusChanged>,
}

/// After the clock advanced: every message, with the frame.
fn listen(mut heard: ResMut<Heard>, director: Option<Res<MusicDirector>>, mut read: Readers) {
    if let Some(d) = director {
        heard.frame.end = d.director().seconds();
    }
    let frame = heard.frame;
    let heard = &mut *heard;
    heard
        .beats
        .extend(read.beats.read().copied().map(|m| (m, frame)));
    heard
        .bars
        .extend(read.bars.read().copied().map(|m| (m, frame)));
    heard
        .phrases
        .extend(read.phrases.read().cloned().map(|m| (m, frame)));
    heard
        .transitions
        .extend(read.transitions.read().cloned().map(|m| (m, frame)));
    heard
        .stingers
        .extend(read.stingers.read().cloned().map(|m| (m, frame)));
    heard
        .late
        .extend(read.late.read().cloned().map(|m| (m, frame)));
    heard
        .failed
        .extend(read.failed.read().cloned().map(|m| (m, frame)));
    heard
        .exports
        .extend(read.exports.read().cloned().map(|m| (m, frame)));
    heard
        .status
        .extend(read.status.read().cloned().map(|m| (m, frame)));
}

fn plugin(model: ModelSource, moods: Option<&str>, wait_for_phrases: bool) -> LeitmotifPlugin {
    LeitmotifPlugin {
        model,
        backend: BackendChoice::Cpu,
        director: DirectorSettings {
            seed: 7,
            ..DirectorSettings::default()
        },
        moods: moods.map(str::to_owned),
        wait_for_phrases,
        // Frames here run far faster than real time: the clock follows them, not a device.
        audio: AudioSettings::off(),
    }
}

fn app_with(plugin: LeitmotifPlugin, assets: AssetPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, assets, plugin))
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
            1.0 / FPS,
        )))
        .init_resource::<Heard>()
        .add_systems(
            Update,
            (
                frame_start.before(LeitmotifSystems::Clock),
                listen.after(LeitmotifSystems::Clock),
            ),
        );
    app.finish();
    app.cleanup();
    app
}

fn app(wait_for_phrases: bool) -> App {
    app_with(
        plugin(ModelSource::DefaultRnn, None, wait_for_phrases),
        AssetPlugin::default(),
    )
}

fn run_seconds(app: &mut App, seconds: f64) {
    for _ in 0..(seconds * FPS).round() as usize {
        app.update();
    }
}

/// Runs frames until `done` holds (tasks and asset loads run on other threads).
fn run_until(app: &mut App, what: &str, done: impl Fn(&App) -> bool) {
    for _ in 0..20_000 {
        if done(app) {
            return;
        }
        app.update();
        std::thread::sleep(Duration::from_micros(200));
    }
    panic!("gave up waiting for {what}");
}

fn director(app: &App) -> &Director {
    app.world().resource::<MusicDirector>().director()
}

fn heard(app: &App) -> &Heard {
    app.world().resource::<Heard>()
}

/// A message's tick and in-frame time agree with the clock: the tick falls in the frame it
/// was reported in (or less than one tick before its start: the clock counts whole ticks),
/// and its offset is the clock's time at the tick less the frame's start.
fn assert_timed(clock: &MusicClock, what: &str, tick: u64, offset: f64, frame: Frame) {
    let at = clock.seconds_at(tick);
    let one_tick = clock.segment_at(tick).seconds_per_tick();
    assert!(
        at >= frame.start - one_tick - 1e-9 && at < frame.end,
        "{what} at tick {tick} ({at} s) reported in frame {frame:?}"
    );
    assert!(
        (0.0..=frame.end - frame.start + 1e-9).contains(&offset),
        "{what}: offset {offset} outside frame {frame:?}"
    );
    let expected = (at - frame.start).max(0.0);
    assert!(
        (offset - expected).abs() < 1e-9,
        "{what} at tick {tick}: offset {offset}, the clock says {expected}"
    );
}

#[test]
fn beats_bars_and_stingers_carry_their_ticks_and_times_in_the_frame() {
    let mut app = app(true);
    run_seconds(&mut app, 3.0);
    app.world_mut()
        .write_message(FireStinger("tense".to_owned()));
    run_until(&mut app, "the stinger", |app| {
        !heard(app).stingers.is_empty()
    });
    run_seconds(&mut app, 2.0);
    let clock = director(&app).clock().clone();
    let heard = heard(&app);

    let (stinger, frame) = &heard.stingers[0];
    assert_eq!(stinger.name, "tense");
    let position = clock.position(stinger.tick);
    assert!(clock.is_beat(stinger.tick), "a stinger starts on a beat");
    assert_eq!(
        (u64::from(stinger.bar), stinger.beat),
        (position.bar, position.beat)
    );
    assert_timed(
        &clock,
        "stinger",
        stinger.tick,
        stinger.frame_offset,
        *frame,
    );

    assert!(heard.beats.len() > 8, "{} beats", heard.beats.len());
    for (beat, frame) in &heard.beats {
        assert!(clock.is_beat(beat.tick));
        let position = clock.position(beat.tick);
        assert_eq!(
            (u64::from(beat.bar), beat.beat),
            (position.bar, position.beat)
        );
        assert_timed(&clock, "beat", beat.tick, beat.frame_offset, *frame);
    }
    // Independently of the clock's own arithmetic: in the first phrase (one tempo from
    // tick 0) the beat at tick t falls t / 480 * 60 / bpm seconds in.
    let first = clock.segment_at(0);
    let first_end = clock.segments().get(1).map_or(u64::MAX, |s| s.tick);
    for (beat, frame) in heard.beats.iter().filter(|(b, _)| b.tick < first_end) {
        let at = beat.tick as f64 / 480.0 * 60.0 / first.bpm;
        if at > frame.start {
            assert!(
                (frame.start + beat.frame_offset - at).abs() < 1e-6,
                "beat at tick {} heard at {} s, due at {at} s",
                beat.tick,
                frame.start + beat.frame_offset
            );
        }
    }
    // Beats fall at many places within their frames, not all at the frame's start.
    let inside = heard
        .beats
        .iter()
        .filter(|(b, _)| b.frame_offset > 1e-4)
        .count();
    assert!(
        inside * 2 > heard.beats.len(),
        "{inside} of {} beats",
        heard.beats.len()
    );

    for (bar, frame) in &heard.bars {
        assert!(clock.is_bar(bar.tick));
        assert_timed(&clock, "bar", bar.tick, bar.frame_offset, *frame);
        let beat = heard.beats.iter().find(|(b, _)| b.tick == bar.tick);
        let beat = beat.unwrap_or_else(|| panic!("no beat with the bar at {}", bar.tick));
        assert_eq!((beat.0.beat, beat.0.frame_offset), (1, bar.frame_offset));
    }
    for (phrase, frame) in &heard.phrases {
        assert_timed(&clock, "phrase", phrase.tick, phrase.frame_offset, *frame);
    }
}

#[test]
fn a_late_phrase_and_a_failed_one_are_told_to_the_game() {
    let mut app = app(true);
    run_seconds(&mut app, 2.0);
    assert!(director(&app).is_started());

    // No composer for a while: the change's phrase cannot arrive by its boundary.
    let composer = app
        .world_mut()
        .remove_resource::<ComposerHandle>()
        .unwrap_or_else(|| panic!("no composer"));
    app.world_mut()
        .write_message(SetGameState("boss".to_owned()));
    run_until(&mut app, "the late phrase", |app| {
        !heard(app).late.is_empty()
    });
    let (late, late_frame) = heard(&app).late[0].clone();
    assert_eq!(late.state, "boss");
    let clock = director(&app).clock().clone();
    assert_eq!(u64::from(late.bar), clock.position(late.tick).bar);
    assert_timed(
        &clock,
        "late phrase",
        late.tick,
        late.frame_offset,
        late_frame,
    );
    // The music went on: beats kept coming after it was due.
    run_seconds(&mut app, 2.0);
    assert!(heard(&app).beats.iter().any(|(b, _)| b.tick > late.tick));

    // The composer is back: the late phrase lands on a later boundary.
    app.world_mut().insert_resource(composer.clone());
    run_until(&mut app, "the boss phrase", |app| {
        heard(app).phrases.iter().any(|(p, _)| p.state == "boss")
    });
    let started = heard(&app)
        .phrases
        .iter()
        .find(|(p, _)| p.state == "boss")
        .map(|(p, _)| p.tick)
        .unwrap_or_default();
    assert!(
        started > late.tick,
        "landed at {started}, due at {}",
        late.tick
    );

    // A stinger that cannot be composed: the host (here the test, standing in for a
    // failing model) reports it, and the game hears why.
    let id = app
        .world_mut()
        .resource_mut::<MusicDirector>()
        .director_mut()
        .stinger("tense")
        .unwrap_or_else(|e| panic!("{e}"));
    loop {
        let mut director = app.world_mut().resource_mut::<MusicDirector>();
        let d = director.director_mut();
        let Some(job) = d.poll_job() else { break };
        if job.id == id {
            d.fail(id, "no voice for the stinger");
        } else {
            match composer.0.compose(&job.request) {
                Ok(phrase) => {
                    let _ = d.deliver(job.id, phrase);
                }
                Err(e) => d.fail(job.id, &e.to_string()),
            }
        }
    }
    let tick_before = director(&app).tick();
    app.update();
    let heard = heard(&app);
    let failed: Vec<&(PhraseFailed, Frame)> = heard
        .failed
        .iter()
        .filter(|(f, _)| f.state == "tense")
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", heard.failed);
    let (failed, frame) = failed[0];
    assert_eq!(failed.message, "no voice for the stinger");
    assert_eq!((failed.tick, failed.frame_offset), (tick_before, 0.0));
    assert_eq!(frame.start_tick, tick_before);
}

#[test]
fn exports_are_written_on_the_io_pool_and_reported_when_done() {
    // Phrases on the task pool, exports on the IO pool: no frame waits for either.
    let mut app = app(false);
    run_until(&mut app, "the first phrase", |app| {
        director(app).is_started()
    });
    run_seconds(&mut app, 4.0);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("exports");
    app.world_mut().write_message(ExportSession {
        dir: out.clone(),
        name: "run".to_owned(),
    });
    // The session as it stands when the export is asked for is what gets written.
    let notes = director(&app).session_score().note_count();
    let phrases = count_phrases(&app);
    app.update();
    let asked_in = heard(&app).frame.index;
    assert!(
        heard(&app).exports.is_empty(),
        "the export was reported in the frame that asked for it"
    );
    run_until(&mut app, "the export", |app| !heard(app).exports.is_empty());
    let (done, frame) = &heard(&app).exports[0];
    assert!(frame.index > asked_in);
    assert_eq!(done.error, None);
    assert_eq!(done.dir, out);
    // Three files (.mid, .melody.json, .tone.json) per phrase and for the session.
    assert_eq!(done.files.len(), 3 * (phrases + 1), "{:?}", done.files);
    for file in &done.files {
        assert!(file.starts_with(&out), "{}", file.display());
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        assert!(size > 0, "{} is missing or empty", file.display());
    }
    let session = find(&done.files, "run_session.mid");
    let back = leitmotif_score::read_score(session).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.note_count(), notes);
    assert!(notes > 0);

    // A folder that cannot be made: the error comes back the same way, nothing written.
    let blocked = dir.path().join("a file");
    std::fs::write(&blocked, b"not a folder").unwrap_or_else(|e| panic!("{e}"));
    app.world_mut().write_message(ExportSession {
        dir: blocked.join("sub"),
        name: "run".to_owned(),
    });
    run_until(&mut app, "the failed export", |app| {
        heard(app).exports.len() > 1
    });
    let (failed, _) = &heard(&app).exports[1];
    assert!(failed.files.is_empty());
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("a file"), "{error}");
    assert!(!blocked.join("sub").exists());
}

/// Phrases delivered so far (each is exported alone).
fn count_phrases(app: &App) -> usize {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let files = director(app)
        .export(dir.path(), "count")
        .unwrap_or_else(|e| panic!("{e}"));
    files.len() / 3 - 1
}

fn find<'a>(files: &'a [PathBuf], suffix: &str) -> &'a Path {
    files
        .iter()
        .find(|f| f.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} in {files:?}"))
}

#[test]
fn a_bad_model_and_a_broken_mood_table_are_told_to_the_game() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("broken.moods.ron"),
        "(moods: {\"calm\": (tempo",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("no such model.bpk");
    let mut app = app_with(
        plugin(ModelSource::Path(missing), Some("broken.moods.ron"), true),
        AssetPlugin {
            file_path: dir.path().to_string_lossy().into_owned(),
            ..AssetPlugin::default()
        },
    );
    // The model is loaded while the app is built: its failure is known before any frame.
    let status = app.world().resource::<LeitmotifStatus>().clone();
    let ModelStatus::Failed { message } = &status.model else {
        panic!("model status {:?}", status.model);
    };
    assert!(message.contains("no such model"), "{message}");
    assert_eq!(status.director, DirectorStatus::Running);
    assert!(!status.is_composing());
    assert!(!app.world().contains_resource::<ComposerHandle>());

    run_until(&mut app, "the mood table's failure", |app| {
        matches!(
            app.world().resource::<LeitmotifStatus>().moods,
            MoodsStatus::Failed { .. }
        )
    });
    app.update();
    let status = app.world().resource::<LeitmotifStatus>().clone();
    let MoodsStatus::Failed { path, message } = &status.moods else {
        panic!("moods status {:?}", status.moods);
    };
    assert_eq!(path.as_deref(), Some("broken.moods.ron"));
    assert!(!message.is_empty());
    // The game heard both, each once: the model's failure first, then the table's (or both
    // in one message, when the two finished within the same frame on a busy machine).
    let sent: Vec<&LeitmotifStatus> = heard(&app).status.iter().map(|(s, _)| &s.0).collect();
    assert!(matches!(sent.len(), 1 | 2), "{sent:?}");
    assert!(matches!(sent[0].model, ModelStatus::Failed { .. }));
    if sent.len() == 2 {
        assert_eq!(sent[0].moods, MoodsStatus::Default);
    }
    assert_eq!(sent[sent.len() - 1], &status);
    // The game runs on: the director keeps the embedded table.
    assert!(director(&app).table().lookup("explore").is_some());
}

#[test]
fn a_good_model_and_mood_table_are_told_to_the_game_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("game.moods.ron"),
        leitmotif_compose::moods::DEFAULT_MOODS_RON,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut app = app_with(
        plugin(ModelSource::DefaultRnn, Some("game.moods.ron"), true),
        AssetPlugin {
            file_path: dir.path().to_string_lossy().into_owned(),
            ..AssetPlugin::default()
        },
    );
    run_until(&mut app, "the mood table", |app| {
        matches!(
            app.world().resource::<LeitmotifStatus>().moods,
            MoodsStatus::Loaded { .. }
        )
    });
    run_seconds(&mut app, 1.0);
    let status = app.world().resource::<LeitmotifStatus>().clone();
    assert!(status.is_composing());
    assert!(
        matches!(&status.model, ModelStatus::Ready { model, .. } if !model.is_empty()),
        "{:?}",
        status.model
    );
    assert_eq!(
        status.moods,
        MoodsStatus::Loaded {
            path: Some("game.moods.ron".to_owned())
        }
    );
    let sent: Vec<&LeitmotifStatus> = heard(&app).status.iter().map(|(s, _)| &s.0).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].moods, MoodsStatus::Default);
    assert_eq!(sent[1], &status);
}

#[test]
fn a_chord_lock_reaches_the_director_and_an_empty_one_is_refused() {
    let mut app = app(true);
    run_seconds(&mut app, 0.5);
    let chords =
        leitmotif_request::request::parse_chords("Am F C G").unwrap_or_else(|e| panic!("{e}"));
    app.world_mut()
        .write_message(LockChords(Some(chords.clone())));
    run_seconds(&mut app, 0.1);
    assert_eq!(director(&app).chord_lock(), Some(&chords[..]));
    // An empty progression is refused (a warning) and the lock stays.
    app.world_mut().write_message(LockChords(Some(Vec::new())));
    run_seconds(&mut app, 0.1);
    assert_eq!(director(&app).chord_lock(), Some(&chords[..]));
    app.world_mut().write_message(LockChords(None));
    run_seconds(&mut app, 0.1);
    assert_eq!(director(&app).chord_lock(), None);
}
