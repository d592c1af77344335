//! Main-thread cost per frame with the plugin active (target: under 50 µs): frames of a
//! headless app with and without `LeitmotifPlugin`, while phrases compose on the task pool
//! and the game changes state, and the time from the start of the plugin's first system set
//! to the end of its last in each frame (what the plugin itself costs the frame).
//! `cargo bench -p bevy_leitmotif --bench frame_cost`

use std::io::Write;
use std::time::{Duration, Instant};

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{
    LeitmotifPlugin, LeitmotifSystems, LeitmotifTimings, MusicDirector, SetGameState, SetIntensity,
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
}

fn empty() {}

fn app(load: Load) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default()));
    if load == Load::EmptySystems {
        app.add_systems(Update, (empty, empty, empty).chain());
    }
    if load == Load::Plugin {
        app.add_plugins(LeitmotifPlugin {
            backend: leitmotif_model::BackendChoice::Cpu,
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
/// before or after them (no composing thread competing for the CPU); and the plugin's own
/// work per frame ([`LeitmotifTimings::last`]).
#[derive(Default)]
struct Frames {
    all: Vec<f64>,
    quiet: Vec<f64>,
    work: Vec<f64>,
}

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
    for frame in 0..FRAMES {
        let Some(game) = apps.last_mut() else {
            break;
        };
        if frame % 1200 == 600 {
            let state = ["combat", "explore", "boss", "calm", "victory"][frame / 1200 % 5];
            game.world_mut()
                .write_message(SetGameState(state.to_owned()));
            game.world_mut()
                .write_message(SetIntensity((frame % 7) as f64 / 7.0));
        }
        let before = composing(game);
        let mut micros = Vec::with_capacity(apps.len());
        for app in apps.iter_mut() {
            let started = Instant::now();
            app.update();
            micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
        let quiet = apps
            .last()
            .is_some_and(|game| before == 0 && composing(game) == 0);
        for ((app, frames), t) in apps.iter().zip(&mut out).zip(micros) {
            frames.all.push(t);
            if quiet {
                frames.quiet.push(t);
            }
            if let Some(timings) = app.world().get_resource::<LeitmotifTimings>() {
                frames.work.push(timings.last.as_secs_f64() * 1e6);
            }
        }
        // Real frames are ~16 ms apart: give the composing threads time, as a game would.
        std::thread::sleep(Duration::from_micros(500));
    }
    for frames in &mut out {
        for t in [&mut frames.all, &mut frames.quiet, &mut frames.work] {
            t.sort_by(f64::total_cmp);
        }
    }
    out
}

fn report(out: &mut impl Write, label: &str, t: &[f64]) -> std::io::Result<()> {
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

fn main() -> std::io::Result<()> {
    let mut out = std::io::stderr().lock();
    let mut apps = [
        app(Load::Nothing),
        app(Load::EmptySystems),
        app(Load::Plugin),
    ];
    // Warm up (the first phrases, caches), then measure.
    let _ = frames(&mut apps);
    if let Some(mut span) = apps[2].world_mut().get_resource_mut::<PluginSpan>() {
        span.micros.clear();
    }
    let measured = frames(&mut apps);
    let [bare, three, with] = &measured[..] else {
        return Ok(());
    };
    let mut spans = apps[2]
        .world_mut()
        .get_resource_mut::<PluginSpan>()
        .map(|mut span| std::mem::take(&mut span.micros))
        .unwrap_or_default();
    spans.sort_by(f64::total_cmp);
    report(&mut out, "MinimalPlugins only (frame)", &bare.all)?;
    report(&mut out, "  no phrase composing", &bare.quiet)?;
    report(&mut out, "3 empty systems (frame)", &three.all)?;
    report(&mut out, "  no phrase composing", &three.quiet)?;
    report(&mut out, "with LeitmotifPlugin (frame)", &with.all)?;
    report(&mut out, "  no phrase composing", &with.quiet)?;
    report(&mut out, "plugin's sets, first to last", &spans)?;
    report(&mut out, "plugin's systems' own work", &with.work)?;
    let d = apps[2].world().resource::<MusicDirector>().director();
    writeln!(
        out,
        "frame difference with the plugin (means): {:.1} µs over all {FRAMES} frames, \
         {:.1} µs over the {} with no phrase composing; music reached bar {}",
        mean(&with.all) - mean(&bare.all),
        mean(&with.quiet) - mean(&bare.quiet),
        with.quiet.len(),
        d.position().bar
    )
}
