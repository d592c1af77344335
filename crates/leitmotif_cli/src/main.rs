//! `leitmotif`: generative, adaptive game music from the command line.
//!
//! Exit codes: 0 on success, 2 on bad input or a bad command line (with a one-line message
//! naming the problem), 1 when the operating system fails us (disk full, permissions).

mod inspect;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leitmotif_score::{Error, FileFormat, read_document, write_document};

/// Generative, adaptive game music: convert, inspect and (soon) generate scores.
#[derive(Debug, Parser)]
#[command(name = "leitmotif", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert between .mid/.midi, .melody.json, .melody.ron and .tone.json (formats are
    /// taken from the file names).
    Convert {
        /// The file to read.
        input: PathBuf,
        /// The file to write (replaced atomically).
        output: PathBuf,
    },
    /// Print a score's tracks, tempo, meter, key, bars and per-bar density and range.
    Inspect {
        /// The file to read (.mid, .midi, .melody.json, .melody.ron or .tone.json).
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e {
                Error::Io { .. } => 1,
                _ => 2,
            };
            // One line: the message names the file and the problem.
            let message = e.to_string().replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Convert { input, output } => {
            if FileFormat::from_path(&output).is_none() {
                return Err(Error::UnknownExtension(output));
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
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io {
                    path: PathBuf::from("<stdout>"),
                    source: e,
                }),
                _ => Ok(()),
            }
        }
    }
}
