//! The plugin's playback through kira's offline backend at 48 kHz, in step with a headless
//! app's frames (`MinimalPlugins`, `TimeUpdateStrategy::ManualDuration`): a change of state
//! is heard from the exact sample of its boundary, beats arrive in the frame whose audio
//! holds them, intensity brings layers in, pause stops the clock, mute silences, a
//! SoundFont asset plays, and without a device the game runs on with the clock on frame
//! time.

use std::time::Duration;

use bevy::asset::{AssetPlugin, AssetServer, Handle, LoadState};
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{
    AudioOutput, AudioSettings, AudioStatus, BeatTick, LeitmotifAudio, LeitmotifPlugin,
    LeitmotifStatus, LeitmotifSystems, MusicDirector, MuteMusic, Part, PauseMusic, PerPart,
    ResumeMusic, SetGameState, SetIntensity, SetSoundFont, SoundFontAsset, TransitionDone,
};
use leitmotif_director::DirectorSettings;
use leitmotif_model::ModelSource;
use leitmotif_tokens::Layer;

const FPS: f64 = 50.0;
const RATE: f64 = 48_000.0;

/// What the game heard, with the recording's length after each frame's clock.
#[derive(Resource, Default)]
struct Heard {
    /// Each beat, with the recording's length before and after its frame's audio.
    beats: Vec<(BeatTick, usize, usize)>,
    transitions: Vec<TransitionDone>,
    recorded: usize,
}

fn listen(
    mut heard: ResMut<Heard>,
    audio: Option<NonSend<LeitmotifAudio>>,
    mut beats: MessageReader<BeatTick>,
    mut transitions: MessageReader<TransitionDone>,
) {
    let before = heard.recorded;
    let after = audio.map_or(0, |a| a.recording().len());
    heard.recorded = after;
    heard
        .beats
        .extend(beats.read().map(|b| (*b, before, after)));
    heard.transitions.extend(transitions.read().cloned());
}

fn app_with(audio: AudioSettings, assets: AssetPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        assets,
        LeitmotifPlugin {
            model: ModelSource::DefaultRnn,
            backend: leitmotif_model::BackendChoice::Cpu,
            director: DirectorSettings {
                seed: 11,
                ..DirectorSettings::default()
            },
            moods: None,
            wait_for_phrases: true,
            audio,
        },
    ))
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / FPS,
    )))
    .init_resource::<Heard>()
    .add_systems(Update, listen.after(LeitmotifSystems::Clock));
    app.finish();
    app.cleanup();
    app
}

fn app(audio: AudioSettings) -> App {
    app_with(audio, AssetPlugin::default())
}

fn run(app: &mut App, seconds: f64) {
    for _ in 0..(seconds * FPS).round() as usize {
        app.update();
    }
}

fn audio(app: &App) -> &LeitmotifAudio {
    app.world().non_send::<LeitmotifAudio>()
}

fn director(app: &App) -> &leitmotif_director::Director {
    app.world().resource::<MusicDirector>().director()
}

/// The recording's frame where session tick `tick` sounds.
fn frame_of(app: &App, tick: u64) -> usize {
    let start = audio(app)
        .player()
        .session_start()
        .unwrap_or_else(|| panic!("no music yet"));
    start as usize + (director(app).clock().seconds_at(tick) * RATE).round() as usize
}

fn rms(frames: &[[f32; 2]]) -> f64 {
    let sum: f64 = frames
        .iter()
        .map(|[l, r]| f64::from(*l).powi(2) + f64::from(*r).powi(2))
        .sum();
    (sum / (2 * frames.len().max(1)) as f64).sqrt()
}

#[test]
fn a_state_change_is_heard_from_the_exact_sample_of_its_boundary() {
    let session = |change: bool| {
        let mut app = app(AudioSettings::offline(true));
        run(&mut app, 4.0);
        if change {
            app.world_mut()
                .write_message(SetGameState("danger".to_owned()));
        }
        run(&mut app, 4.0);
        app
    };
    let changed = session(true);
    let same = session(false);
    let heard = changed.world().resource::<Heard>();
    let transition = heard
        .transitions
        .first()
        .unwrap_or_else(|| panic!("no transition"));
    let boundary = frame_of(&changed, transition.tick);
    let a = audio(&changed).recording();
    let b = audio(&same).recording();
    assert!(a.len() > boundary + 48_000, "{} frames", a.len());
    // Identical up to the boundary; different from its first samples (the old music's
    // fade starts on the boundary's sample; a new note's very first sample can be its
    // envelope's zero).
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| panic!("the change is not heard"));
    assert!(
        (boundary..boundary + 3).contains(&first),
        "the new state must be heard from frame {boundary} (bar {}), not {first}",
        transition.bar
    );
    assert!(
        rms(&a[boundary..boundary + 48_000]) > 0.005,
        "the new music plays"
    );
}

#[test]
fn beats_arrive_in_the_frame_whose_audio_holds_them() {
    let mut app = app(AudioSettings::offline(true));
    run(&mut app, 8.0);
    let heard = app.world().resource::<Heard>();
    assert!(heard.beats.len() > 8, "{} beats", heard.beats.len());
    for (beat, before, after) in &heard.beats {
        let frame = frame_of(&app, beat.tick);
        assert!(
            (*before..*after).contains(&frame),
            "bar {} beat {} sounds at frame {frame}, announced with frames {before}..{after}",
            beat.bar,
            beat.beat
        );
    }
}

#[test]
fn intensity_brings_layers_in() {
    // The melody turned off: only the layers that intensity brings in can sound.
    let mut volumes = PerPart::all(1.0);
    volumes.melody = 0.0;
    let mut app = app(AudioSettings {
        layer_volumes: volumes,
        ..AudioSettings::offline(true)
    });
    app.world_mut()
        .write_message(SetGameState("danger".to_owned()));
    app.world_mut().write_message(SetIntensity(0.0));
    run(&mut app, 10.0);
    // The intensity starts at 0.5 and falls (smoothed) to 0: after the first seconds the
    // bass has faded out, and nothing more sounds.
    let recording = audio(&app).recording();
    let quiet = rms(&recording[recording.len() - 4 * 48_000..]);
    assert!(quiet < 1e-5, "silent at intensity 0: {quiet}");
    assert_eq!(director(&app).active_layers(), [Layer::Melody]);
    let from = audio(&app).recording().len();
    app.world_mut().write_message(SetIntensity(1.0));
    run(&mut app, 8.0);
    let loud = rms(&audio(&app).recording()[from..]);
    assert!(loud > 0.005, "bass and drums came in: {loud}");
    let layers = director(&app).active_layers();
    assert!(layers.contains(&Layer::Drums), "{layers:?}");
}

#[test]
fn pause_stops_the_clock_and_mute_silences_the_music() {
    let mut app = app(AudioSettings::offline(true));
    run(&mut app, 3.0);
    app.world_mut().write_message(PauseMusic);
    run(&mut app, 0.2);
    let (seconds, beats) = (
        director(&app).seconds(),
        app.world().resource::<Heard>().beats.len(),
    );
    let from = audio(&app).recording().len();
    run(&mut app, 2.0);
    assert_eq!(
        director(&app).seconds(),
        seconds,
        "the clock ran while paused"
    );
    assert_eq!(app.world().resource::<Heard>().beats.len(), beats);
    assert!(
        audio(&app).recording()[from..]
            .iter()
            .all(|f| *f == [0.0, 0.0])
    );
    app.world_mut().write_message(ResumeMusic);
    run(&mut app, 2.0);
    assert!(director(&app).seconds() > seconds + 1.9);
    app.world_mut().write_message(MuteMusic(true));
    run(&mut app, 0.2);
    let from = audio(&app).recording().len();
    let ticking = director(&app).seconds();
    run(&mut app, 1.0);
    assert!(rms(&audio(&app).recording()[from..]) < 1e-6, "muted");
    assert!(
        director(&app).seconds() > ticking + 0.99,
        "the clock runs on, muted"
    );
}

#[test]
fn without_sound_pause_holds_the_frame_time_clock() {
    let mut app = app(AudioSettings::off());
    run(&mut app, 2.0);
    assert!(app.world().get_non_send::<LeitmotifAudio>().is_none());
    let seconds = director(&app).seconds();
    assert!(seconds > 1.5);
    app.world_mut().write_message(PauseMusic);
    run(&mut app, 1.0);
    assert_eq!(director(&app).seconds(), seconds);
    app.world_mut().write_message(ResumeMusic);
    run(&mut app, 1.0);
    assert!((director(&app).seconds() - seconds - 1.0).abs() < 1e-6);
}

#[test]
fn with_no_audio_device_the_game_runs_on_with_the_clock_on_frame_time() {
    let mut app = app(AudioSettings::default());
    run(&mut app, 4.0);
    let status = app.world().resource::<LeitmotifStatus>().audio.clone();
    match status {
        AudioStatus::NoDevice { message } => {
            assert!(!message.is_empty());
            assert!(app.world().get_non_send::<LeitmotifAudio>().is_none());
            // Frame time: 4 s of frames, less the frame the first phrase took to arrive.
            let seconds = director(&app).seconds();
            assert!((seconds - 4.0).abs() <= 1.0 / FPS + 1e-9, "{seconds}");
        }
        // This machine has a sound card: the music plays on it.
        AudioStatus::Playing => {
            assert_eq!(audio(&app).mode(), AudioOutput::Device);
        }
        other => panic!("unexpected audio status {other:?}"),
    }
}

#[test]
fn a_soundfont_asset_plays_and_a_broken_one_is_refused() {
    let font = std::path::Path::new("/usr/share/sounds/sf2/sf_GMbank.sf2");
    if !font.exists() {
        // Debian's csound-soundfont; scripts/test.sh installs it.
        panic!("{} is missing: install csound-soundfont", font.display());
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(font, dir.path().join("gm.sf2")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("broken.sf2"), b"RIFF\x04\0\0\0sfbk")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut app = app_with(
        AudioSettings::offline(true),
        AssetPlugin {
            file_path: dir.path().to_string_lossy().into_owned(),
            ..AssetPlugin::default()
        },
    );
    run(&mut app, 1.0);
    let server = app.world().resource::<AssetServer>().clone();
    let broken: Handle<SoundFontAsset> = server.load("broken.sf2");
    let good: Handle<SoundFontAsset> = server.load("gm.sf2");
    app.world_mut().write_message(SetSoundFont(Some(good)));
    // Both loads run on other threads: wait for the good font to reach the player and for
    // the broken one's load to end (either may come first).
    let broken_failed =
        |server: &AssetServer| matches!(server.load_state(broken.id()), LoadState::Failed(_));
    for _ in 0..3000 {
        if audio(&app).player().settings().soundfont.is_some() && broken_failed(&server) {
            break;
        }
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        audio(&app).player().settings().soundfont.is_some(),
        "the SoundFont never reached the player"
    );
    assert!(
        broken_failed(&server),
        "{:?}",
        server.load_state(broken.id())
    );
    let from = audio(&app).recording().len();
    run(&mut app, 3.0);
    assert!(
        rms(&audio(&app).recording()[from..]) > 0.005,
        "the SoundFont's instruments play"
    );
    // A part's instrument can still be changed.
    app.world_mut()
        .write_message(bevy_leitmotif::SetInstrument {
            part: Part::Melody,
            instrument: bevy_leitmotif::InstrumentChoice::BuiltIn(bevy_leitmotif::BuiltIn::Lead),
        });
    run(&mut app, 0.5);
    assert_eq!(
        *audio(&app)
            .player()
            .settings()
            .instruments
            .get(Part::Melody),
        bevy_leitmotif::InstrumentChoice::BuiltIn(bevy_leitmotif::BuiltIn::Lead)
    );
}
