//! `leitmotif listening-set`: a blind listening test a person can take in five minutes.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use leitmotif_compose::listening::{self, Origin};
use leitmotif_compose::ngram;
use leitmotif_synth::{RenderOptions, encode_wav_mono, render_score};
use serde_json::json;

use crate::CliError;
use crate::audio::{render_options, write_all};
use crate::compose::{BackendArg, usage};
use crate::measure::{NGRAM, composer_for, load_corpus};

/// The loudest clip's peak after the set's common gain (-1 dBFS).
const PEAK: f32 = 0.891;

/// `leitmotif listening-set`.
#[derive(Debug, Args)]
pub struct ListeningArgs {
    /// Folder of .mid files: its validation split gives the human tunes (and with them each
    /// prompt's key, meter, tempo and length), its training split fits the 5-gram baseline.
    #[arg(long)]
    data: PathBuf,
    /// The model under test: `rnn`, `transformer` or a weights file (`NAME.bpk`).
    #[arg(long, default_value = "transformer")]
    model: String,
    /// Prompts (each gets three clips: the model's, the 5-gram's and the human tune's).
    #[arg(long, default_value_t = 10)]
    prompts: usize,
    /// Bars a clip.
    #[arg(long, default_value_t = 4)]
    bars: u32,
    /// Picks the tunes, seeds the writers and shuffles the clips.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sample rate of the mono WAV clips, in Hz.
    #[arg(long, default_value_t = 16_000)]
    sample_rate: u32,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// The folder to write: NN-a.wav, NN-b.wav, NN-c.wav per prompt (and the same as .mid),
    /// README.md (the prompts and an answer sheet) and answers.json (which clip is which:
    /// the key, kept apart).
    #[arg(short, long)]
    out: PathBuf,
}

/// Builds the set and writes every file or none.
///
/// # Errors
/// Usage errors for absurd options or a folder without enough held-out tunes; model and
/// rendering errors; [`CliError::Io`] naming a file that cannot be written.
pub fn listening_set(args: &ListeningArgs) -> Result<(), CliError> {
    if !(1..=50).contains(&args.prompts) {
        return Err(usage("--prompts must be in 1..=50".to_owned()));
    }
    if !(1..=16).contains(&args.bars) {
        return Err(usage("--bars must be in 1..=16".to_owned()));
    }
    let options = RenderOptions {
        tail_seconds: 1.0,
        ..render_options(None, Some(args.sample_rate))?
    };
    if args.model == NGRAM {
        return Err(usage(format!(
            "--model {NGRAM}: the baseline is always in the set; name the model to test"
        )));
    }
    let corpus = load_corpus(&args.data)?;
    let tunes = listening::human_tunes(&corpus, &args.data, args.prompts, args.bars, args.seed)
        .map_err(|e| usage(format!("{}: {e}", args.data.display())))?;
    let model = composer_for(&args.model, args.backend, &corpus)?;
    let baseline = composer_for(NGRAM, args.backend, &corpus)?;
    let items = listening::listening_set(&model, &baseline, &tunes, args.seed)?;

    // Every clip rendered first, then one gain for all of them (the loudest peak at
    // -1 dBFS): a lone melody renders quietly, and a gain per clip would tell them apart.
    let mut rendered = Vec::new();
    for item in &items {
        let audios = item
            .clips
            .iter()
            .map(|clip| render_score(&clip.score, &options))
            .collect::<Result<Vec<_>, _>>()?;
        rendered.push(audios);
    }
    // The peak of the mono mix each file will hold.
    let peak = rendered
        .iter()
        .flatten()
        .flat_map(|audio| audio.frames.iter())
        .map(|f| (0.5 * (f[0] + f[1])).abs())
        .fold(0.0f32, f32::max);
    let gain = if peak > 0.0 { PEAK / peak } else { 1.0 };
    let mut files = Vec::new();
    let mut answers = Vec::new();
    let mut sheet = String::new();
    let mut seconds = 0.0;
    for (i, (item, audios)) in items.iter().zip(&mut rendered).enumerate() {
        let number = i + 1;
        let mut row = serde_json::Map::new();
        let _ = write!(sheet, "| {number:02} | {} |", item.prompt.describe());
        for ((clip, audio), letter) in item.clips.iter().zip(audios).zip(['a', 'b', 'c']) {
            for frame in &mut audio.frames {
                frame[0] *= gain;
                frame[1] *= gain;
            }
            seconds += audio.duration_seconds();
            let name = format!("{number:02}-{letter}.wav");
            files.push((args.out.join(&name), encode_wav_mono(audio)?));
            let midi = leitmotif_score::midi::write_midi(&clip.score)
                .map_err(|e| usage(format!("clip {number:02}-{letter}: {e}")))?;
            files.push((args.out.join(format!("{number:02}-{letter}.mid")), midi));
            row.insert(letter.to_string(), json!(clip.origin));
            let _ = write!(sheet, " {name} |");
        }
        sheet.push_str(" | |\n");
        answers.push(json!({
            "prompt": number,
            "describe": item.prompt.describe(),
            "clips": row,
            "human_source": item.prompt.source,
        }));
    }
    let key = json!({
        "model": model.model_id(),
        "baseline": baseline.model_id(),
        "seed": args.seed,
        "bars": args.bars,
        "prompts": answers,
    });
    let mut key_text = serde_json::to_string_pretty(&key)
        .map_err(|e| usage(format!("answers could not be written: {e}")))?;
    key_text.push('\n');
    files.push((args.out.join("answers.json"), key_text.into_bytes()));
    files.push((
        args.out.join("README.md"),
        readme(args, &sheet, seconds).into_bytes(),
    ));
    std::fs::create_dir_all(&args.out).map_err(|source| CliError::Io {
        path: args.out.clone(),
        source,
    })?;
    write_all(&files)?;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}: {} prompts x 3 clips ({:.0} s of audio in all), README.md, answers.json",
        args.out.display(),
        items.len(),
        seconds
    );
    Ok(())
}

/// The listener's instructions, the prompts and an answer sheet.
fn readme(args: &ListeningArgs, sheet: &str, seconds: f64) -> String {
    let origins = [Origin::Model, Origin::Ngram, Origin::Human].len();
    format!(
        "# Blind listening set\n\n\
         For each prompt below, three clips of {bars} bars share a key, a meter and a tempo: one \
         was written by Leitmotif's model, one by a {order}-gram model through the same \
         decoding (the baseline), and one is the opening of a human folk tune from the \
         held-out split of the training data, which the models never saw. All {origins} \
         are played alike: one instrument, one loudness, no expression. The order is \
         shuffled for each prompt.\n\n\
         Listen to each row (about {minutes:.0} minutes in all), then write down which clip \
         you think is human and which you like best. Only then open `answers.json`.\n\n\
         | # | prompt | clip a | clip b | clip c | human? | best? |\n\
         |---|---|---|---|---|---|---|\n\
         {sheet}\n\
         Made with `leitmotif listening-set --data DATA --model {model} --prompts {prompts} \
         --bars {bars} --seed {seed} --sample-rate {rate} --out OUT` (DATA: the folk \
         melodies the models were trained on).\n",
        bars = args.bars,
        order = ngram::ORDER,
        minutes = seconds / 60.0,
        model = args.model,
        prompts = args.prompts,
        seed = args.seed,
        rate = args.sample_rate,
    )
}
