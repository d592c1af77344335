//! A scripted two-minute game run headless: explore, danger rising, combat, boss, victory,
//! with stingers; writes every phrase and the whole session to `--out DIR` and prints the
//! transition log with bar numbers.
//!
//! `cargo run -p bevy_leitmotif --example headless_soundtrack -- --out target/soundtrack`

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{
    BarTick, ExportDone, ExportSession, FireStinger, LeitmotifPlugin, PhraseStarted, SetGameState,
    SetIntensity, TransitionDone,
};

/// Frames per second of the simulated game.
const FPS: f64 = 30.0;

/// What the game does, second by second.
const SCRIPT: [(f64, Action); 12] = [
    (0.0, Action::State("explore")),
    (0.0, Action::Intensity(0.2)),
    (20.0, Action::State("danger")),
    (22.0, Action::Intensity(0.4)),
    (30.0, Action::Intensity(0.6)),
    (38.0, Action::Stinger("tense")),
    (40.0, Action::State("combat")),
    (41.0, Action::Intensity(0.8)),
    (70.0, Action::State("boss")),
    (72.0, Action::Intensity(1.0)),
    (100.0, Action::Stinger("heroic")),
    (102.0, Action::State("victory")),
];

#[derive(Clone, Copy)]
enum Action {
    State(&'static str),
    Intensity(f64),
    Stinger(&'static str),
}

#[derive(Resource, Default)]
struct Log {
    lines: Vec<String>,
    bar: u32,
    files: Vec<PathBuf>,
    error: Option<String>,
}

fn main() -> AppExit {
    let mut out = PathBuf::from("target/soundtrack");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--out" {
            if let Some(dir) = args.next() {
                out = PathBuf::from(dir);
            }
        } else {
            let _ = writeln!(std::io::stderr(), "usage: headless_soundtrack [--out DIR]");
            return AppExit::from_code(2);
        }
    }
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        AssetPlugin::default(),
        LeitmotifPlugin {
            wait_for_phrases: true,
            ..LeitmotifPlugin::default()
        },
    ))
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / FPS,
    )))
    .init_resource::<Log>()
    .add_systems(
        Update,
        listen.after(bevy_leitmotif::LeitmotifSystems::Clock),
    );
    app.finish();
    app.cleanup();
    let frames = (120.0 * FPS) as usize;
    let mut next = 0;
    for frame in 0..=frames {
        let now = frame as f64 / FPS;
        while next < SCRIPT.len() && SCRIPT[next].0 <= now {
            let world = app.world_mut();
            match SCRIPT[next].1 {
                Action::State(name) => {
                    world.write_message(SetGameState(name.to_owned()));
                }
                Action::Intensity(v) => {
                    world.write_message(SetIntensity(v));
                }
                Action::Stinger(name) => {
                    world.write_message(FireStinger(name.to_owned()));
                }
            }
            next += 1;
        }
        app.update();
    }
    app.world_mut().write_message(ExportSession {
        dir: out.clone(),
        name: "soundtrack".to_owned(),
    });
    app.update();
    let log = app.world().resource::<Log>();
    let mut stdout = std::io::stdout().lock();
    for line in &log.lines {
        let _ = writeln!(stdout, "{line}");
    }
    if let Some(e) = &log.error {
        let _ = writeln!(std::io::stderr(), "export failed: {e}");
        return AppExit::from_code(1);
    }
    let _ = writeln!(
        stdout,
        "wrote {} files to {}",
        log.files.len(),
        out.display()
    );
    AppExit::Success
}

fn listen(
    mut log: ResMut<Log>,
    mut bars: MessageReader<BarTick>,
    mut phrases: MessageReader<PhraseStarted>,
    mut transitions: MessageReader<TransitionDone>,
    mut exports: MessageReader<ExportDone>,
) {
    for bar in bars.read() {
        log.bar = bar.bar;
    }
    for p in phrases.read() {
        let line = format!("bar {:>3}  phrase   {}", p.bar, p.state);
        log.lines.push(line);
    }
    for t in transitions.read() {
        let line = format!("bar {:>3}  change   {} -> {}", t.bar, t.from, t.to);
        log.lines.push(line);
    }
    for e in exports.read() {
        log.files.clone_from(&e.files);
        log.error.clone_from(&e.error);
    }
}
