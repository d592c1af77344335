//! A scripted two-minute game run headless (`MinimalPlugins` with its schedule runner):
//! explore, danger rising, combat, boss, victory with a composer's fanfare as a fixed cue,
//! and stingers. Writes every phrase and the whole session to `--out DIR` and prints the
//! transition log with bar numbers and the second each lands on; with `--wav`, also
//! `DIR/session.wav`: the game's soundtrack as the plugin played it (kira's offline
//! backend, in step with the frames: the same playback path a game hears).
//!
//! `cargo run -p bevy_leitmotif --example headless_soundtrack -- --out target/soundtrack --wav`

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use bevy::app::ScheduleRunnerPlugin;
use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{
    AudioSettings, ExportDone, ExportSession, FireStinger, LeitmotifAudio, LeitmotifPlugin,
    LeitmotifSystems, Melody, MusicDirector, PhraseStarted, PlayCue, SetGameState, SetIntensity,
    Transition, TransitionDone,
};

/// Frames per second of the simulated game.
const FPS: f64 = 30.0;

/// How long the game lasts, in seconds.
const LENGTH: f64 = 120.0;

/// What the game does, second by second.
const SCRIPT: [(f64, Action); 13] = [
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
    (102.0, Action::Fanfare),
];

#[derive(Clone, Copy)]
enum Action {
    State(&'static str),
    Intensity(f64),
    Stinger(&'static str),
    /// The composer's victory fanfare, on the next bar line.
    Fanfare,
}

/// The game's script and where it stands.
#[derive(Resource)]
struct Game {
    next: usize,
    out: PathBuf,
    fanfare: Handle<Melody>,
    exported: bool,
    /// Whether to write `session.wav`.
    wav: bool,
}

#[derive(Resource, Default)]
struct Log {
    lines: Vec<String>,
}

fn main() -> AppExit {
    let mut out = PathBuf::from("target/soundtrack");
    let mut wav = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let dir = if arg == "--out" { args.next() } else { None };
        match (arg.as_str(), dir) {
            ("--wav", _) => wav = true,
            ("--out", Some(dir)) => out = PathBuf::from(dir),
            _ => {
                let _ = writeln!(
                    std::io::stderr(),
                    "usage: headless_soundtrack [--out DIR] [--wav]"
                );
                return AppExit::from_code(2);
            }
        }
    }
    App::new()
        .add_plugins((
            // Frames as fast as the machine runs them; game time is 1/FPS a frame.
            MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(Duration::ZERO)),
            AssetPlugin {
                // The repository's assets (cargo sets the variable for `cargo run`).
                file_path: std::env::var("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
                    + "/../../assets",
                ..AssetPlugin::default()
            },
            LeitmotifPlugin {
                // Render the soundtrack offline: the same music however fast the machine.
                wait_for_phrases: true,
                // Played offline in step with the frames (kept for `--wav`): the clock
                // follows the audio exactly as with a device, at no real-time pace.
                audio: AudioSettings::offline(wav),
                ..LeitmotifPlugin::default()
            },
        ))
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
            1.0 / FPS,
        )))
        .insert_resource(Game {
            next: 0,
            out,
            fanfare: Handle::default(),
            exported: false,
            wav,
        })
        .init_resource::<Log>()
        .add_systems(Startup, load_fanfare)
        .add_systems(
            Update,
            (
                play.before(LeitmotifSystems::Input),
                (listen, finish).chain().after(LeitmotifSystems::Clock),
            ),
        )
        .run()
}

fn load_fanfare(mut game: ResMut<Game>, server: Res<AssetServer>) {
    game.fanfare = server.load("cues/victory_fanfare.melody.ron");
}

/// Sends the script's messages as game time reaches them, then asks for the export.
fn play(
    time: Res<Time>,
    mut game: ResMut<Game>,
    mut states: MessageWriter<SetGameState>,
    mut intensity: MessageWriter<SetIntensity>,
    mut stingers: MessageWriter<FireStinger>,
    mut cues: MessageWriter<PlayCue>,
    mut export: MessageWriter<ExportSession>,
) {
    let now = time.elapsed_secs_f64();
    while let Some((at, action)) = SCRIPT.get(game.next).copied()
        && at <= now
    {
        match action {
            Action::State(name) => {
                states.write(SetGameState(name.to_owned()));
            }
            Action::Intensity(v) => {
                intensity.write(SetIntensity(v));
            }
            Action::Stinger(name) => {
                stingers.write(FireStinger(name.to_owned()));
            }
            Action::Fanfare => {
                cues.write(PlayCue {
                    melody: game.fanfare.clone(),
                    name: "victory fanfare".to_owned(),
                    transition: Transition::NextBar,
                    // Its own brass and bass, with the victory mood's drums under them.
                    harmonize: true,
                });
            }
        }
        game.next += 1;
    }
    if now >= LENGTH && !game.exported {
        game.exported = true;
        export.write(ExportSession {
            dir: game.out.clone(),
            name: "soundtrack".to_owned(),
        });
    }
}

fn listen(
    mut log: ResMut<Log>,
    director: Res<MusicDirector>,
    mut phrases: MessageReader<PhraseStarted>,
    mut transitions: MessageReader<TransitionDone>,
) {
    // Session seconds: in session.wav, add the silence before the first phrase (printed).
    let at = |tick: u64| director.director().clock().seconds_at(tick);
    for p in phrases.read() {
        log.lines.push(format!(
            "bar {:>3}  {:7.3} s  phrase   {}",
            p.bar,
            at(p.tick),
            p.state
        ));
    }
    for t in transitions.read() {
        log.lines.push(format!(
            "bar {:>3}  {:7.3} s  change   {} -> {} (crossfade {} beats)",
            t.bar,
            at(t.tick),
            t.from,
            t.to,
            t.crossfade_beats
        ));
    }
}

/// Prints the log once the export is written, writes `session.wav`, and ends the app.
fn finish(
    log: Res<Log>,
    game: Res<Game>,
    audio: Option<NonSend<LeitmotifAudio>>,
    mut exports: MessageReader<ExportDone>,
    mut exit: MessageWriter<AppExit>,
) {
    for done in exports.read() {
        let mut stdout = std::io::stdout().lock();
        for line in &log.lines {
            let _ = writeln!(stdout, "{line}");
        }
        let wav = game.out.join("session.wav");
        let written = match (&audio, game.wav) {
            (Some(audio), true) => {
                let rate = f64::from(audio.sample_rate());
                let start = audio.player().session_start().unwrap_or(0) as f64 / rate;
                let _ = writeln!(
                    stdout,
                    "session.wav: {:.1} s at {} Hz; session second 0 is at {start:.3} s in it",
                    audio.recording().len() as f64 / rate,
                    audio.sample_rate()
                );
                audio.write_wav(&wav).map_err(|e| e.to_string())
            }
            (None, true) => Err("no playback".to_owned()),
            _ => Ok(()),
        };
        if let Err(e) = written {
            let _ = writeln!(std::io::stderr(), "{} not written: {e}", wav.display());
            exit.write(AppExit::from_code(1));
        } else if let Some(e) = &done.error {
            let _ = writeln!(std::io::stderr(), "export failed: {e}");
            exit.write(AppExit::from_code(1));
        } else {
            let _ = writeln!(
                stdout,
                "wrote {} files to {}",
                done.files.len(),
                game.out.display()
            );
            exit.write(AppExit::Success);
        }
    }
}
