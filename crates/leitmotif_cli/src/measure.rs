//! `leitmotif adherence` and `leitmotif realism`: re-measure how well the controls land and
//! how close default melodies come to human ones.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use leitmotif_compose::Composer;
use leitmotif_compose::adherence::{self, Adherence, ControlHits, Hits};
use leitmotif_compose::ngram;
use leitmotif_compose::realism;
use leitmotif_tokens::Corpus;
use serde_json::json;

use crate::CliError;
use crate::compose::{BackendArg, load_composer, usage};

/// `leitmotif adherence`.
#[derive(Debug, Args)]
pub struct AdherenceArgs {
    /// Models: `rnn`, `transformer` or weights files (`NAME.bpk`), comma-separated.
    #[arg(long, default_value = "rnn,transformer")]
    models: String,
    /// Meters, comma-separated (default: every meter the vocabulary knows).
    #[arg(long)]
    meters: Option<String>,
    /// Bars a request.
    #[arg(long, default_value_t = 8)]
    bars: u32,
    /// Seeds for each request of the grid.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// One JSON object per model, one per line.
    #[arg(long)]
    json: bool,
}

/// `leitmotif realism`.
#[derive(Debug, Args)]
pub struct RealismArgs {
    /// Folder of .mid files whose validation split is the human side.
    #[arg(long)]
    data: PathBuf,
    /// Models: `rnn`, `transformer`, weights files (`NAME.bpk`) or `5-gram` (the n-gram
    /// baseline fit on the data's training split, through the same decoding), comma-separated.
    #[arg(long, default_value = "rnn,transformer")]
    models: String,
    /// Default melodies generated per model (spread over keys, major and minor, and meters).
    #[arg(long, default_value_t = 24)]
    melodies: usize,
    /// Bars a melody (human ones are cut to as many).
    #[arg(long, default_value_t = 16)]
    bars: u32,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// One JSON object per model, one per line.
    #[arg(long)]
    json: bool,
}

/// Tokenizes the .mid files of `dir` (its training split fits the n-gram baseline).
pub(crate) fn load_corpus(dir: &Path) -> Result<Corpus, CliError> {
    Corpus::load(dir).map_err(|e| usage(format!("{}: {e}", dir.display())))
}

/// The composer `model` names: `5-gram` is the n-gram baseline fit on `corpus`; anything
/// else loads as [`load_composer`] does.
pub(crate) fn composer_for(
    model: &str,
    backend: BackendArg,
    corpus: &Corpus,
) -> Result<Composer, CliError> {
    if model == NGRAM {
        Ok(Composer::ngram(ngram::baseline(corpus)))
    } else {
        load_composer(model, backend)
    }
}

/// The name the n-gram baseline goes by in `--models`.
pub(crate) const NGRAM: &str = "5-gram";

pub(crate) fn models(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect()
}

fn percent(hits: &Hits) -> String {
    format!(
        "{:5.1} % ({:5.1} % within one)",
        100.0 * hits.exact_share(),
        100.0 * hits.within_one_share()
    )
}

fn row(label: &str, hits: &ControlHits) -> String {
    format!(
        "  {label:10} {:5} bars  density {}  register {}  intensity {}",
        hits.density.bars,
        percent(&hits.density),
        percent(&hits.register),
        percent(&hits.intensity)
    )
}

/// Runs `leitmotif adherence`.
pub fn adherence(args: &AdherenceArgs) -> Result<(), CliError> {
    if !(1..=64).contains(&args.bars) {
        return Err(usage("--bars must be in 1..=64".to_owned()));
    }
    if !(1..=100).contains(&args.seeds) {
        return Err(usage("--seeds must be in 1..=100".to_owned()));
    }
    let meters = match &args.meters {
        None => Vec::new(),
        Some(text) => text
            .split(',')
            .map(|m| crate::compose::parse_meter(m.trim()))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut out = std::io::stdout().lock();
    for model in models(&args.models) {
        let composer = load_composer(model, args.backend)?;
        let result: Adherence = adherence::measure(&composer, &meters, args.bars, args.seeds)?;
        if args.json {
            let line = json!({
                "model": model,
                "requests": result.requests,
                "all": result.all,
                "by_shape": result.by_shape,
                "by_meter": result.by_meter,
                "misses": result.misses,
            });
            let _ = writeln!(out, "{line}");
        } else {
            let _ = writeln!(
                out,
                "{model}: {} requests, bars in the bucket asked for",
                result.requests
            );
            let _ = writeln!(out, "{}", row("all", &result.all));
            if result.all.density.unreachable > 0 {
                let _ = writeln!(
                    out,
                    "  ({} bars asked for a density no whole number of notes has in their meter: \
                     within one bucket, left out of the exact share)",
                    result.all.density.unreachable
                );
            }
            for (shape, hits) in &result.by_shape {
                let _ = writeln!(out, "{}", row(shape, hits));
            }
            for (meter, hits) in &result.by_meter {
                let _ = writeln!(out, "{}", row(meter, hits));
            }
        }
    }
    Ok(())
}

/// Runs `leitmotif realism`.
pub fn realism(args: &RealismArgs) -> Result<(), CliError> {
    if !(2..=1000).contains(&args.melodies) {
        return Err(usage("--melodies must be in 2..=1000".to_owned()));
    }
    if !(1..=64).contains(&args.bars) {
        return Err(usage("--bars must be in 1..=64".to_owned()));
    }
    let corpus = load_corpus(&args.data)?;
    let human = realism::held_out_melodies(&corpus, &args.data, args.bars as usize);
    let human_features: Vec<_> = human.iter().filter_map(realism::Melody::features).collect();
    if human_features.len() < 2 {
        return Err(usage(format!(
            "{}: its validation split has fewer than two melodies",
            args.data.display()
        )));
    }
    // The outside judge of how like the data a melody's tokens are.
    let judge = ngram::baseline(&corpus);
    let (human_bits, _) = realism::judged_bits(&judge, &human);
    let requests = realism::default_requests(args.melodies, args.bars);
    let mut out = std::io::stdout().lock();
    for model in models(&args.models) {
        let composer = composer_for(model, args.backend, &corpus)?;
        let melodies = realism::generated_melodies(&composer, &requests)?;
        let generated: Vec<_> = melodies
            .iter()
            .filter_map(realism::Melody::features)
            .collect();
        let report = realism::compare(&generated, &human_features);
        let (bits, _) = realism::judged_bits(&judge, &melodies);
        if args.json {
            let _ = writeln!(
                out,
                "{}",
                json!({
                    "model": model,
                    "realism": report,
                    "judged_bits_per_token": { "generated": bits, "human": human_bits },
                })
            );
        } else {
            let _ = writeln!(
                out,
                "{model}: {} generated against {} held-out human melodies, mean overlap {:.3}",
                report.generated, report.human, report.mean_overlap
            );
            for name in realism::FEATURES {
                if let Some(f) = report.features.get(name) {
                    let _ = writeln!(
                        out,
                        "  {name:20} overlap {:.3}   generated {:7.3}   human {:7.3}",
                        f.overlap, f.generated_mean, f.human_mean
                    );
                }
            }
            let _ = writeln!(
                out,
                "  bits per token under the data's 5-gram: generated {bits:.3}, human {human_bits:.3}"
            );
        }
    }
    Ok(())
}
