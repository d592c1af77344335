//! Main-thread cost per frame with the plugin active (target: under 50 µs): frames of a
//! headless app with and without `LeitmotifPlugin`, while phrases compose on the task pool
//! and the game changes state. `cargo bench -p bevy_leitmotif --bench frame_cost`

use std::io::Write;
use std::time::{Duration, Instant};

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{LeitmotifPlugin, MusicDirector, SetGameState, SetIntensity};

const FRAMES: usize = 6000;

fn app(with_plugin: bool) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default()));
    if with_plugin {
        app.add_plugins(LeitmotifPlugin {
            backend: leitmotif_model::BackendChoice::Cpu,
            ..LeitmotifPlugin::default()
        });
    }
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / 60.0,
    )));
    app.finish();
    app.cleanup();
    app
}

/// Frame times in microseconds, sorted.
fn frames(app: &mut App, script: bool) -> Vec<f64> {
    let mut times = Vec::with_capacity(FRAMES);
    for frame in 0..FRAMES {
        if script && frame % 1200 == 600 {
            let state = ["combat", "explore", "boss", "calm", "victory"][frame / 1200 % 5];
            app.world_mut()
                .write_message(SetGameState(state.to_owned()));
            app.world_mut()
                .write_message(SetIntensity((frame % 7) as f64 / 7.0));
        }
        let started = Instant::now();
        app.update();
        times.push(started.elapsed().as_secs_f64() * 1e6);
        // Real frames are ~16 ms apart: give the composing threads time, as a game would.
        std::thread::sleep(Duration::from_micros(500));
    }
    times.sort_by(f64::total_cmp);
    times
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

fn main() -> std::io::Result<()> {
    let mut out = std::io::stderr().lock();
    let mut bare = app(false);
    let _ = frames(&mut bare, false);
    let bare_times = frames(&mut bare, false);
    let mut with = app(true);
    let _ = frames(&mut with, true);
    let with_times = frames(&mut with, true);
    report(&mut out, "MinimalPlugins only", &bare_times)?;
    report(&mut out, "with LeitmotifPlugin", &with_times)?;
    let d = with.world().resource::<MusicDirector>().director();
    writeln!(
        out,
        "plugin cost per frame (mean difference): {:.1} µs; music reached bar {}",
        with_times.iter().sum::<f64>() / with_times.len() as f64
            - bare_times.iter().sum::<f64>() / bare_times.len() as f64,
        d.position().bar
    )
}
