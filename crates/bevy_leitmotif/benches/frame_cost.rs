//! Main-thread cost per frame with the plugin active (target: under 50 µs): frames of a
//! headless app with and without `LeitmotifPlugin`, while phrases compose on the task pool
//! and the game changes state, and the time from the start of the plugin's first system set
//! to the end of its last in each frame (what the plugin itself costs the frame). The
//! plugin runs twice: without sound, and with playback on kira's offline backend
//! ([`AudioOutput::Manual`]), whose audio is rendered between frames, as a device's audio
//! thread would render it (its cost is reported apart: the audio thread's share of real
//! time). `cargo bench -p bevy_leitmotif --bench frame_cost`

use std::io::Write;
use std::time::{Duration, Instant};

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{
    AudioOutput, AudioSettings, LeitmotifAudio, LeitmotifPlugin, LeitmotifSystems,
    LeitmotifTimings, MusicDirector, SetGameState, SetIntensity,
};

const FRAMES: usize = 6000;

/// When the plugin's systems started this frame, and how long they took in each frame.
#[derive(Resource, Default)]
struct PluginSpan {
    started: Option<Instant>,
    micros: Vec<f64>,
}

fn span_start(mut span: ResMut<PluginSpan>) {
    span.started = Some(Instant::now());
}

fn span_end(mut span: ResMut<PluginSpan>) {
    if let Some(started) = span.started.take() {
        span.micros.push(started.elapsed().as_secs_f64() * 1e6);
    }
}

/// What the app runs besides `MinimalPlugins` and the asset plugin.
#[derive(Clone, Copy, PartialEq)]
enum Load {
    Nothing,
    /// Three empty systems chained in `Update`, as the plugin's three are: what any three
    /// systems cost the frame (the executor's hops between threads).
    EmptySystems,
    Plugin,
    /// The plugin playing the music (offline backend, rendered between frames).
    Playback,
}

fn empty() {}

fn app(load: Load) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default()));
    if load == Load::EmptySystems {
        app.add_systems(Update, (empty, empty, empty).chain());
    }
    if matches!(load, Load::Plugin | Load::Playback) {
        let audio = if load == Load::Playback {
            AudioSettings {
                output: AudioOutput::Manual,
                ..AudioSettings::default()
            }
        } else {
            AudioSettings::off()
        };
        app.add_plugins(LeitmotifPlugin {
            backend: leitmotif_model::BackendChoice::Cpu,
            audio,
            ..LeitmotifPlugin::default()
        })
        .init_resource::<PluginSpan>()
        .add_systems(
            Update,
            (
                span_start.before(LeitmotifSystems::Input),
                span_end.after(LeitmotifSystems::Clock),
            ),
        );
    }
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / 60.0,
    )));
    app.finish();
    app.cleanup();
    app
}

/// Frame times in microseconds, sorted: all frames, and those with no phrase composing
/// before or after them (no composing thread competing for the CPU); the plugin's own
/// work per frame ([`LeitmotifTimings::last`]); and the time the frame's audio took to
/// render (off the frame, as on a device's audio thread).
#[derive(Default)]
struct Frames {
    all: Vec<f64>,
    quiet: Vec<f64>,
    work: Vec<f64>,
    audio: Vec<f64>,
}

/// Audio frames per game frame (48 kHz at 60 frames a second).
const AUDIO_FRAMES: usize = 800;

/// Runs `FRAMES` frames of each app, interleaved frame by frame so that the machine's
/// drift and the composing threads (Bevy's task pools are shared by the apps in a process)
/// weigh on every app alike. The game script goes to the last app, the plugin's.
fn frames(apps: &mut [App]) -> Vec<Frames> {
    let mut out: Vec<Frames> = apps.iter().map(|_| Frames::default()).collect();
    let composing = |app: &App| {
        app.world()
            .get_resource::<LeitmotifTimings>()
            .map_or(0, |t| t.composing)
    };
    let mut samples = Vec::with_capacity(AUDIO_FRAMES);
    for frame in 0..FRAMES {
        if frame % 1200 == 600 {
            let state = ["combat", "explore", "boss", "calm", "victory"][frame / 1200 % 5];
            for game in apps.iter_mut().filter(|app| composing_app(app)) {
                game.world_mut()
                    .write_message(SetGameState(state.to_owned()));
                game.world_mut()
                    .write_message(SetIntensity((frame % 7) as f64 / 7.0));
            }
        }
        let before: usize = apps.iter().map(composing).sum();
        let mut micros = Vec::with_capacity(apps.len());
        let mut rendering = Vec::with_capacity(apps.len());
        for app in apps.iter_mut() {
            let started = Instant::now();
            app.update();
            micros.push(started.elapsed().as_secs_f64() * 1e6);
            // The audio thread's turn: this frame's audio.
            let started = Instant::now();
            let rendered = app
                .world_mut()
                .get_non_send_mut::<LeitmotifAudio>()
                .is_some_and(|mut audio| {
                    samples.clear();
                    audio.render(AUDIO_FRAMES, &mut samples)
                });
            rendering.push(rendered.then(|| started.elapsed().as_secs_f64() * 1e6));
        }
        let quiet = before == 0 && apps.iter().map(composing).sum::<usize>() == 0;
        for (((app, frames), t), audio) in apps.iter().zip(&mut out).zip(micros).zip(rendering) {
            frames.all.push(t);
            if quiet {
                frames.quiet.push(t);
            }
            if let Some(timings) = app.world().get_resource::<LeitmotifTimings>() {
                frames.work.push(timings.last.as_secs_f64() * 1e6);
            }
            frames.audio.extend(audio);
        }
        // Real frames are ~16 ms apart: give the composing threads time, as a game would.
        std::thread::sleep(Duration::from_micros(500));
    }
    for frames in &mut out {
        for t in [
            &mut frames.all,
            &mut frames.quiet,
            &mut frames.work,
            &mut frames.audio,
        ] {
            t.sort_by(f64::total_cmp);
        }
    }
    out
}

/// Whether the app runs the plugin (the game script goes to those).
fn composing_app(app: &App) -> bool {
    app.world().contains_resource::<MusicDirector>()
}

fn report(out: &mut impl Write, label: &str, t: &[f64]) -> std::io::Result<()> {
    if t.is_empty() {
        return writeln!(out, "{label:28} (no frames)");
    }
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    let at = |q: f64| t[((t.len() - 1) as f64 * q) as usize];
    writeln!(
        out,
        "{label:28} mean {mean:7.1} µs  p50 {:7.1}  p99 {:7.1}  max {:8.1}",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

fn mean(t: &[f64]) -> f64 {
    t.iter().sum::<f64>() / t.len().max(1) as f64
}

/// The plugin's sets' span per frame in the app, sorted (taken: the next run starts anew).
fn spans(app: &mut App) -> Vec<f64> {
    let mut spans = app
        .world_mut()
        .get_resource_mut::<PluginSpan>()
        .map(|mut span| std::mem::take(&mut span.micros))
        .unwrap_or_default();
    spans.sort_by(f64::total_cmp);
    spans
}

fn main() -> std::io::Result<()> {
    let mut out = std::io::stderr().lock();
    let mut apps = [
        app(Load::Nothing),
        app(Load::EmptySystems),
        app(Load::Plugin),
        app(Load::Playback),
    ];
    // Warm up (the first phrases, caches), then measure.
    let _ = frames(&mut apps);
    for app in &mut apps[2..] {
        let _ = spans(app);
    }
    let measured = frames(&mut apps);
    let [bare, three, with, playing] = &measured[..] else {
        return Ok(());
    };
    let plugin_spans = spans(&mut apps[2]);
    let playing_spans = spans(&mut apps[3]);
    report(&mut out, "MinimalPlugins only (frame)", &bare.all)?;
    report(&mut out, "  no phrase composing", &bare.quiet)?;
    report(&mut out, "3 empty systems (frame)", &three.all)?;
    report(&mut out, "  no phrase composing", &three.quiet)?;
    report(&mut out, "with LeitmotifPlugin (frame)", &with.all)?;
    report(&mut out, "  no phrase composing", &with.quiet)?;
    report(&mut out, "plugin's sets, first to last", &plugin_spans)?;
    report(&mut out, "plugin's systems' own work", &with.work)?;
    report(&mut out, "with playback (frame)", &playing.all)?;
    report(&mut out, "  no phrase composing", &playing.quiet)?;
    report(&mut out, "plugin's sets, first to last", &playing_spans)?;
    report(&mut out, "plugin's systems' own work", &playing.work)?;
    report(&mut out, "audio thread, 800 frames", &playing.audio)?;
    let d = apps[2].world().resource::<MusicDirector>().director();
    let heard = apps[3].world().resource::<MusicDirector>().director();
    writeln!(
        out,
        "frame difference with the plugin (means): {:.1} µs over all {FRAMES} frames, \
         {:.1} µs over the {} with no phrase composing; music reached bar {}",
        mean(&with.all) - mean(&bare.all),
        mean(&with.quiet) - mean(&bare.quiet),
        with.quiet.len(),
        d.position().bar
    )?;
    writeln!(
        out,
        "frame difference with playback (means): {:.1} µs over all {FRAMES} frames, \
         {:.1} µs over the {} with no phrase composing; music reached bar {}; \
         the audio thread used {:.1} % of real time",
        mean(&playing.all) - mean(&bare.all),
        mean(&playing.quiet) - mean(&bare.quiet),
        playing.quiet.len(),
        heard.position().bar,
        mean(&playing.audio) / (AUDIO_FRAMES as f64 / 48_000.0 * 1e6) * 100.0
    )
}
