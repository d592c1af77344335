//! `leitmotif`: generative, adaptive game music from the command line.
//!
//! Exit codes: 0 on success, 2 on bad input or a bad command line (with a one-line message
//! naming the problem; also when there is no audio device to play to), 1 when the operating
//! system fails us (disk full, permissions, an audio device that stops).

mod audio;
mod bench;
mod compose;
mod harmonize;
mod inspect;
mod listening;
mod measure;
#[cfg(feature = "train")]
mod models;
mod play;
mod vary;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leitmotif_score::{Error, FileFormat, read_document, write_document};

/// Generative, adaptive game music: generate, continue and infill phrases; render them to
/// WAV or play them; train and evaluate models; convert and inspect scores.
#[derive(Debug, Parser)]
#[command(name = "leitmotif", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new phrase from a prompt and/or explicit controls: OUT.mid, OUT.melody.json
    /// and OUT.tone.json (and OUT.wav with --wav).
    Generate(compose::GenerateArgs),
    /// Add bars after a primer, keeping the primer note for note.
    Continue(compose::ContinueArgs),
    /// Rewrite some bars (or one layer in them) of a score, keeping everything else.
    Infill(compose::InfillArgs),
    /// Add bass, chords and drums under a melody, keeping it note for note: OUT.mid,
    /// OUT.melody.json and OUT.tone.json.
    Harmonize(harmonize::HarmonizeArgs),
    /// State a theme (any score's melody) in a mood: moved into its key and mode by scale
    /// degree, fitted to its tempo and meter, in its register, harmonised under its layers;
    /// or develop it with the model (--develop). Writes OUT.mid, OUT.melody.json and
    /// OUT.tone.json; --measure prints theme recall over seeds instead.
    Vary(vary::VaryArgs),
    /// Convert between .mid/.midi, .melody.json, .melody.ron and .tone.json (formats are
    /// taken from the file names).
    Convert {
        /// The file to read.
        input: PathBuf,
        /// The file to write (replaced atomically).
        output: PathBuf,
    },
    /// Render a score to a WAV file (48 kHz 16-bit stereo by default) with the built-in
    /// instruments or a sound font (.sf2); --stems also writes one WAV per track.
    Render(audio::RenderArgs),
    /// Play a score through the default audio output device.
    Play(play::PlayArgs),
    /// Train a model on a folder of .mid files.
    #[cfg(feature = "train")]
    Train(models::TrainArgs),
    /// Score a model: bits per token against a 5-gram baseline, and control accuracy.
    #[cfg(feature = "train")]
    Eval(models::EvalArgs),
    /// Train a model on a folder of .mid files (needs a build with `--features train`).
    #[cfg(not(feature = "train"))]
    #[command(disable_help_flag = true)]
    Train {
        /// The command's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Score a model (needs a build with `--features train`).
    #[cfg(not(feature = "train"))]
    #[command(disable_help_flag = true)]
    Eval {
        /// The command's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure decoding speed on every backend beside PyTorch eager on the same weights,
    /// the time to a ready 8-bar 4-layer phrase, and peak memory.
    Bench(bench::BenchArgs),
    /// Measure how often written bars land on the density, register and intensity asked
    /// for, over a grid of requests (constant values, ramps, jumps every two bars) in every
    /// meter.
    Adherence(measure::AdherenceArgs),
    /// Compare default melodies with the held-out human melodies of a folder, feature by
    /// feature (overlapped area of the two distributions).
    Realism(measure::RealismArgs),
    /// Write a blind listening test: for prompts taken from held-out human tunes, the
    /// model's phrase, the 5-gram baseline's and the human tune's opening, as shuffled WAV
    /// clips, with the answers in a separate file.
    ListeningSet(listening::ListeningArgs),
    /// Print a score's tracks, tempo, meter, key, bars and per-bar density and range.
    Inspect {
        /// The file to read (.mid, .midi, .melody.json, .melody.ron or .tone.json).
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A bad score file.
    #[error(transparent)]
    Score(#[from] Error),
    /// Training or evaluation failed.
    #[cfg(feature = "train")]
    #[error(transparent)]
    Train(#[from] leitmotif_train::TrainError),
    /// Composing failed.
    #[error(transparent)]
    Compose(#[from] leitmotif_compose::ComposeError),
    /// A bad request (a chord symbol that is not one, say).
    #[error(transparent)]
    Request(#[from] leitmotif_compose::RequestError),
    /// The arranger refused its input.
    #[error(transparent)]
    Arrange(#[from] leitmotif_arrange::ArrangeError),
    /// A bad sound font or sample rate, or a WAV that could not be made.
    #[error(transparent)]
    Synth(#[from] leitmotif_synth::SynthError),
    /// No audio output device could be opened.
    #[error("no audio output device ({0})")]
    NoAudioDevice(String),
    /// The audio device failed while playing.
    #[error("{0}")]
    Audio(String),
    /// An option out of range.
    #[error("{0}")]
    Usage(String),
    /// A read or write failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl CliError {
    /// 1 when the operating system failed, 2 for bad input.
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Score(Error::Io { .. }) | CliError::Io { .. } | CliError::Audio(_) => 1,
            #[cfg(feature = "train")]
            CliError::Train(leitmotif_train::TrainError::Io { .. }) => 1,
            CliError::Synth(leitmotif_synth::SynthError::Wav { .. }) => 1,
            _ => 2,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the message names the file and the problem.
            let message = e.to_string().replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Generate(args) => compose::generate(&args),
        Command::Continue(args) => compose::continue_(&args),
        Command::Infill(args) => compose::infill(&args),
        Command::Harmonize(args) => harmonize::harmonize(&args),
        Command::Vary(args) => vary::vary(&args),
        Command::Render(args) => audio::render(&args),
        Command::Play(args) => play::play(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Adherence(args) => measure::adherence(&args),
        Command::Realism(args) => measure::realism(&args),
        Command::ListeningSet(args) => listening::listening_set(&args),
        #[cfg(feature = "train")]
        Command::Train(args) => models::train(&args),
        #[cfg(feature = "train")]
        Command::Eval(args) => models::eval(&args),
        #[cfg(not(feature = "train"))]
        Command::Train { .. } | Command::Eval { .. } => Err(CliError::Usage(
            "training and evaluation are not in this build of leitmotif: build it with \
             `--features train` (for example `cargo run --release -p leitmotif_cli --features \
             train -- train --data DIR --model rnn --out OUT`)"
                .to_owned(),
        )),
        Command::Convert { input, output } => {
            if FileFormat::from_path(&output).is_none() {
                return Err(Error::UnknownExtension(output).into());
            }
            let doc = read_document(&input)?;
            write_document(&output, &doc)?;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "wrote {} ({} tracks, {} notes)",
                output.display(),
                doc.score.tracks.len(),
                doc.score.note_count()
            );
            Ok(())
        }
        Command::Inspect { file, json } => {
            let doc = read_document(&file)?;
            let report = inspect::Report::new(&file, &doc);
            let mut out = std::io::stdout().lock();
            let written = if json {
                serde_json::to_writer_pretty(&mut out, &report)
                    .map_err(std::io::Error::other)
                    .and_then(|()| writeln!(out))
            } else {
                report.write_text(&mut out)
            };
            // A closed pipe (`leitmotif inspect x.mid | head`) is not an error worth reporting.
            match written {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Io {
                    path: PathBuf::from("<stdout>"),
                    source: e,
                }),
                _ => Ok(()),
            }
        }
    }
}
