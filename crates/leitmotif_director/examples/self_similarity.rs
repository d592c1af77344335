//! Bar-level self-similarity (how often a 2- or 4-bar group of the melody returns later,
//! exactly or varied) of director sessions with the real composer, walking the moods'
//! forms and through-composed, and of folders or files of MIDI (the training data).
//!
//! `cargo run --release -p leitmotif_director --example self_similarity -- --seeds 4
//! --bars 32 [--state explore] [--form "A A B A"] [--out DIR] [--json] [PATHS...]`
//!
//! Each PATH (a .mid file or a folder searched recursively) is measured as one pooled
//! corpus. `--form` measures one more form beside `A A' B A''` and `A` (through-composed).
//! With `--out DIR`, each session is written as `DIR/<form>_seed<N>.mid` and its
//! phrases listed with the form section each was planned as.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use leitmotif_compose::{ComposeError, Composer};
use leitmotif_director::{Director, DirectorError, DirectorEvent, DirectorSettings};
use leitmotif_model::{BackendChoice, ModelSource};
use leitmotif_request::form::Form;
use leitmotif_request::similarity::{DEFAULT_THRESHOLD, SelfSimilarity, self_similarity};
use leitmotif_request::{MoodError, MoodTable};
use leitmotif_score::Score;
use leitmotif_score::time::BarMap;

/// What can stop the measurement.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Director(#[from] DirectorError),
    #[error(transparent)]
    Mood(#[from] MoodError),
    #[error(transparent)]
    Score(#[from] leitmotif_score::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("cannot write the report: {0}")]
    Write(#[from] std::io::Error),
}

struct Args {
    seeds: u64,
    bars: usize,
    state: String,
    out: Option<PathBuf>,
    json: bool,
    threshold: f64,
    /// Another form to measure beside the default and through-composed ones.
    form: Option<Form>,
    paths: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, Failure> {
    let mut args = Args {
        seeds: 4,
        bars: 32,
        state: "explore".to_owned(),
        out: None,
        json: false,
        threshold: DEFAULT_THRESHOLD,
        form: None,
        paths: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    let usage = |what: &str| Failure::Usage(format!("{what} needs a value"));
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seeds" => {
                let v = it.next().ok_or_else(|| usage("--seeds"))?;
                args.seeds = v
                    .parse()
                    .map_err(|_| Failure::Usage(format!("--seeds {v}")))?;
            }
            "--bars" => {
                let v = it.next().ok_or_else(|| usage("--bars"))?;
                args.bars = v
                    .parse()
                    .map_err(|_| Failure::Usage(format!("--bars {v}")))?;
            }
            "--threshold" => {
                let v = it.next().ok_or_else(|| usage("--threshold"))?;
                args.threshold = v
                    .parse()
                    .map_err(|_| Failure::Usage(format!("--threshold {v}")))?;
            }
            "--form" => {
                let v = it.next().ok_or_else(|| usage("--form"))?;
                args.form = Some(
                    v.parse()
                        .map_err(|e| Failure::Usage(format!("--form {v:?}: {e}")))?,
                );
            }
            "--state" => args.state = it.next().ok_or_else(|| usage("--state"))?,
            "--out" => args.out = Some(it.next().ok_or_else(|| usage("--out"))?.into()),
            "--json" => args.json = true,
            other if other.starts_with("--") => {
                return Err(Failure::Usage(format!("unknown option {other}")));
            }
            path => args.paths.push(path.into()),
        }
    }
    Ok(args)
}

/// The first `bars` bars of `score`.
fn crop(score: &Score, bars: usize) -> Score {
    let end = BarMap::new(score)
        .bars()
        .get(bars.saturating_sub(1))
        .map_or(score.end_tick, |b| b.end());
    let mut cropped = score.clone();
    for track in &mut cropped.tracks {
        track.notes.retain(|n| n.start < end);
        for n in &mut track.notes {
            n.duration = n.duration.min(end - n.start);
        }
    }
    cropped.end_tick = end;
    cropped
}

/// One session of `bars` bars in `state` with every mood walking `form`; its phrases as
/// (bar, section) and its score.
fn session(
    composer: &Composer,
    form: &Form,
    seed: u64,
    args: &Args,
) -> Result<(Vec<(u64, String)>, Score), Failure> {
    let mut table = MoodTable::default_table()?;
    for mood in table.moods.values_mut() {
        mood.form = Some(form.clone());
    }
    let settings = DirectorSettings {
        initial_state: args.state.clone(),
        seed,
        ..DirectorSettings::default()
    };
    let mut director = Director::new(settings, table)?;
    let mut phrases = Vec::new();
    loop {
        while let Some(job) = director.poll_job() {
            let phrase = composer.compose(&job.request)?;
            director.deliver(job.id, phrase)?;
        }
        for event in director.advance(0.25) {
            if let DirectorEvent::PhraseStarted { id, bar, .. } = event {
                let section = director
                    .section_of(id)
                    .map_or("-".to_owned(), |s| s.to_string());
                phrases.push((bar, section));
            }
        }
        if director.position().bar > args.bars as u64 {
            break;
        }
    }
    Ok((phrases, crop(&director.session_score(), args.bars)))
}

/// Every .mid file under `path` (or `path` itself), sorted.
fn midi_files(path: &Path, found: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let io = |source| Failure::Io {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for entry in entries {
            midi_files(&entry, found)?;
        }
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
    {
        found.push(path.to_owned());
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Row {
    what: String,
    pieces: usize,
    measured: SelfSimilarity,
}

fn run() -> Result<(), Failure> {
    let args = parse_args()?;
    let mut out = std::io::stdout().lock();
    let mut rows = Vec::new();
    if args.seeds > 0 {
        let composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Cpu)?;
        let mut forms = vec![Form::default(), Form::through_composed()];
        forms.extend(args.form.clone());
        for form in forms {
            let name = format!("form {form}");
            let mut pooled = SelfSimilarity::default();
            for seed in 0..args.seeds {
                let (phrases, score) = session(&composer, &form, seed, &args)?;
                pooled.add(&self_similarity(&score, args.threshold));
                if let Some(dir) = &args.out {
                    std::fs::create_dir_all(dir).map_err(|source| Failure::Io {
                        path: dir.clone(),
                        source,
                    })?;
                    let slug: String = form
                        .to_string()
                        .replace('\'', "p")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join("_");
                    let file = dir.join(format!("{slug}_seed{seed}.mid"));
                    leitmotif_score::files::write_score(&file, &score)?;
                    let plan: Vec<String> = phrases
                        .iter()
                        .map(|(b, s)| format!("bar {b}: {s}"))
                        .collect();
                    if !args.json {
                        writeln!(out, "{}: {}", file.display(), plan.join(", "))?;
                    }
                }
            }
            rows.push(Row {
                what: format!("director, {name}, {} bars in {}", args.bars, args.state),
                pieces: args.seeds as usize,
                measured: pooled,
            });
        }
    }
    for path in &args.paths {
        let mut files = Vec::new();
        midi_files(path, &mut files)?;
        let mut pooled = SelfSimilarity::default();
        let mut pieces = 0;
        for file in &files {
            match leitmotif_score::files::read_score(file) {
                Ok(score) => {
                    pooled.add(&self_similarity(&score, args.threshold));
                    pieces += 1;
                }
                Err(e) => tracing::warn!(file = %file.display(), %e, "skipped"),
            }
        }
        rows.push(Row {
            what: path.display().to_string(),
            pieces,
            measured: pooled,
        });
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<58} {:>6} | {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7}",
        "", "pieces", "2-bar", "exact", "return", "4-bar", "exact", "return"
    )?;
    for row in &rows {
        let (two, four) = (row.measured.two, row.measured.four);
        writeln!(
            out,
            "{:<58} {:>6} | {:>7} {:>6.1}% {:>6.1}% | {:>7} {:>6.1}% {:>6.1}%",
            row.what,
            row.pieces,
            two.groups,
            100.0 * two.exact_share(),
            100.0 * two.return_share(),
            four.groups,
            100.0 * four.exact_share(),
            100.0 * four.return_share(),
        )?;
    }
    writeln!(
        out,
        "(varied: similarity >= {} by onsets and scale degrees)",
        args.threshold
    )?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("self_similarity: {e}");
            ExitCode::FAILURE
        }
    }
}
