//! The `generate`, `continue` and `infill` commands.

use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use leitmotif_compose::request::parse_chords;
use leitmotif_compose::{
    Composer, Composition, Curve, MoodTable, PromptControls, Request, SamplingSettings, Task,
};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;
use leitmotif_score::files::ENGINE_FORMATS;
use leitmotif_score::{MelodyDocument, read_score};
use leitmotif_synth::{Audio, Instrument, RenderOptions, encode_wav, render_score};
use leitmotif_tokens::Layer;

use crate::CliError;
use crate::audio::{clock, dbfs, describe, render_options, write_all};
use crate::harmonize::{chord_tone_line, share_under};

/// The backend to run the model on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// A hardware GPU through wgpu if there is one, else the CPU.
    Auto,
    /// wgpu on any adapter (software ones included); an error if there is none.
    Wgpu,
    /// The CPU backend.
    Cpu,
}

/// Options every composing command shares.
#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// Key and mode, e.g. "D minor", "F# dorian", "Eb".
    #[arg(long)]
    key: Option<String>,
    /// Tempo in quarter notes per minute.
    #[arg(long)]
    tempo: Option<f64>,
    /// Meter, e.g. 6/8.
    #[arg(long)]
    meter: Option<String>,
    /// Layers to write: any of melody, bass, chords, drums, comma-separated.
    #[arg(long)]
    layers: Option<String>,
    /// Intensity 0..1: one value, a ramp "0.2..0.9" over the bars, or one value per bar
    /// "0.2,0.5,0.9".
    #[arg(long)]
    intensity: Option<String>,
    /// Note density 0..1, in the same forms as --intensity: every bar lands on the density
    /// asked for. "~0.5" means about 0.5: the model varies each bar's density within a
    /// step of it, as a human melody does (the default, around 0.5 or the prompt's mood).
    #[arg(long)]
    density: Option<String>,
    /// Register 0 (low) to 1 (high), in the same forms as --density (also "~0.6").
    #[arg(long)]
    register: Option<String>,
    /// Seed; the same command and seed write the same files. Without one, a seed is drawn
    /// from the clock and printed.
    #[arg(long)]
    seed: Option<u64>,
    /// Sampling temperature (0: always the likeliest token).
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Keep only the K likeliest allowed tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Keep the likeliest allowed tokens up to this probability mass.
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    /// Let pitches leave the key (by default out-of-key pitches are masked out).
    #[arg(long)]
    chromatic: bool,
    /// Drafts to draw: whole drafts of a new piece or a continuation, the one the model
    /// finds likeliest kept [default: 1]; candidates for a loop's seam or an infill's join,
    /// the best-joining kept [default: 4].
    #[arg(long, value_name = "N")]
    candidates: Option<usize>,
    /// A chord progression, one chord a bar, cycling: "Am F C G". The melody takes chord
    /// tones on strong beats and the arranger plays these chords. Without --key a new piece
    /// takes the key that holds them.
    #[arg(long)]
    chords: Option<String>,
    /// How loosely every layer is played, 0 (exact grid) to 1: a seeded groove in timing
    /// and velocity [default: the mood's, else 0].
    #[arg(long, value_name = "0..1")]
    humanize: Option<f64>,
    /// Swing, 0 (straight) to 1 (triplet): off-beat eighths played late.
    #[arg(long, value_name = "0..1")]
    swing: Option<f64>,
    /// `rnn`, `transformer` (the embedded defaults) or a weights file.
    #[arg(long, default_value = "transformer")]
    model: String,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    backend: BackendArg,
    /// A mood table (`*.moods.ron`) instead of the default one.
    #[arg(long)]
    moods: Option<PathBuf>,
    /// Also write OUT.wav: the music played by the built-in instruments (or --soundfont),
    /// 16-bit stereo.
    #[arg(long)]
    wav: bool,
    /// With --wav: a sound font (an .sf2 file) to play the tracks with, each by its
    /// General MIDI program (channel 10 as a drum kit).
    #[arg(long, value_name = "FILE.sf2", requires = "wav")]
    soundfont: Option<PathBuf>,
    /// With --wav: the sample rate in Hz, 8000 to 384000 [default: 48000].
    #[arg(long, value_name = "N", requires = "wav")]
    sample_rate: Option<u32>,
    /// Output name: writes OUT.mid, OUT.melody.json and OUT.tone.json (and OUT.wav).
    #[arg(short, long)]
    out: PathBuf,
}

/// `leitmotif generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to write, in words: "tense dungeon chase in D minor, 150 bpm".
    prompt: Option<String>,
    /// Bars to write.
    #[arg(long)]
    bars: Option<u32>,
    /// Make the phrase loop: its last bar leads back into its first.
    #[arg(long = "loop")]
    looped: bool,
    #[command(flatten)]
    options: ComposeArgs,
}

/// `leitmotif continue`.
#[derive(Debug, Args)]
pub struct ContinueArgs {
    /// The music to continue (.mid, .melody.json, .melody.ron or .tone.json).
    primer: PathBuf,
    /// Bars to add.
    #[arg(long, default_value_t = 8)]
    bars: u32,
    #[command(flatten)]
    options: ComposeArgs,
}

/// `leitmotif infill`.
#[derive(Debug, Args)]
pub struct InfillArgs {
    /// The music to change.
    input: PathBuf,
    /// Bars to rewrite, counted from 1: "5..8", "5-8" or "5".
    #[arg(long)]
    bars: String,
    /// Rewrite only this layer (melody, bass, chords or drums).
    #[arg(long)]
    layer: Option<String>,
    #[command(flatten)]
    options: ComposeArgs,
}

/// A meter written as `6/8`.
pub(crate) fn parse_meter(text: &str) -> Result<(u8, u8), CliError> {
    text.split_once('/')
        .and_then(|(n, d)| Some((n.trim().parse().ok()?, d.trim().parse().ok()?)))
        .ok_or_else(|| usage(format!("--meter {text:?}: write it as 6/8")))
}

pub(crate) fn usage(message: String) -> CliError {
    CliError::Usage(message)
}

pub(crate) fn parse_layer(word: &str) -> Result<Layer, CliError> {
    match word.trim().to_ascii_lowercase().as_str() {
        "melody" | "lead" => Ok(Layer::Melody),
        "bass" => Ok(Layer::Bass),
        "chords" | "chord" | "pad" | "harmony" => Ok(Layer::Chords),
        "drums" | "drum" | "percussion" => Ok(Layer::Drums),
        other => Err(usage(format!(
            "unknown layer {other:?}: use melody, bass, chords or drums"
        ))),
    }
}

pub(crate) fn parse_curve(name: &str, text: &str) -> Result<Curve, CliError> {
    let number = |t: &str| -> Result<f64, CliError> {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && (0.0..=1.0).contains(v))
            .ok_or_else(|| usage(format!("--{name} {t:?} is not a number in 0..=1")))
    };
    if let Some(around) = text.trim().strip_prefix('~') {
        Ok(Curve::Around(number(around)?))
    } else if let Some((from, to)) = text.split_once("..") {
        Ok(Curve::Ramp {
            from: number(from)?,
            to: number(to)?,
        })
    } else if text.contains(',') {
        Ok(Curve::PerBar(
            text.split(',').map(number).collect::<Result<_, _>>()?,
        ))
    } else {
        Ok(Curve::Constant(number(text)?))
    }
}

fn parse_bars(text: &str) -> Result<RangeInclusive<u32>, CliError> {
    let bad = || usage(format!("--bars {text:?}: give bars as 5..8, 5-8 or 5"));
    let (a, b) = text
        .split_once("..")
        .or_else(|| text.split_once('-'))
        .unwrap_or((text, text));
    let a: u32 = a.trim().parse().map_err(|_| bad())?;
    let b: u32 = b
        .trim()
        .trim_start_matches('=')
        .parse()
        .map_err(|_| bad())?;
    Ok(a..=b)
}

impl ComposeArgs {
    /// Applies the explicit options (which override the prompt) to `request`.
    fn apply(&self, request: &mut Request) -> Result<(), CliError> {
        if let Some(key) = &self.key {
            request.key = Some(
                key.parse()
                    .map_err(|e| usage(format!("--key {key:?}: {e}")))?,
            );
        }
        if let Some(tempo) = self.tempo {
            request.tempo_bpm = Some(tempo);
        }
        if let Some(meter) = &self.meter {
            request.meter = Some(parse_meter(meter)?);
        }
        if let Some(layers) = &self.layers {
            let mut parsed: Vec<Layer> = layers
                .split(',')
                .map(parse_layer)
                .collect::<Result<_, _>>()?;
            parsed.sort();
            parsed.dedup();
            request.layers = parsed;
        }
        for (name, text, curve) in [
            ("intensity", &self.intensity, &mut request.intensity),
            ("density", &self.density, &mut request.density),
            ("register", &self.register, &mut request.register),
        ] {
            if let Some(text) = text {
                *curve = parse_curve(name, text)?;
            }
        }
        request.seed = self.seed.unwrap_or_else(clock_seed);
        request.sampling = SamplingSettings {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: Some(self.top_p),
        };
        request.key_lock = !self.chromatic;
        if let Some(n) = self.candidates {
            request.candidates = n;
            request.drafts = n;
        }
        if let Some(chords) = &self.chords {
            request.chords = parse_chords(chords)?;
        }
        if let Some(humanize) = self.humanize {
            request.humanize = humanize;
        }
        if let Some(swing) = self.swing {
            request.swing = swing;
        }
        Ok(())
    }

    fn moods(&self) -> Result<MoodTable, CliError> {
        mood_table(self.moods.as_deref())
    }

    fn composer(&self) -> Result<Composer, CliError> {
        load_composer(&self.model, self.backend)
    }

    /// The output stem, without an extension the user may have typed.
    fn stem(&self) -> PathBuf {
        stem_of(&self.out)
    }
}

/// The model `model` (`rnn`, `transformer` or a weights file) on `backend`.
pub(crate) fn load_composer(model: &str, backend: BackendArg) -> Result<Composer, CliError> {
    let backend = match backend {
        BackendArg::Auto => BackendChoice::Auto,
        BackendArg::Wgpu => BackendChoice::Wgpu,
        BackendArg::Cpu => BackendChoice::Cpu,
    };
    Ok(Composer::load(&ModelSource::parse(model), backend)?)
}

/// `stem` with `extension` (dot included) appended.
pub(crate) fn with_extension(stem: &Path, extension: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(extension);
    PathBuf::from(name)
}

/// `doc` encoded in every engine format, named after `stem`; nothing is written yet.
pub(crate) fn engine_files(
    stem: &Path,
    doc: &MelodyDocument,
) -> Result<Vec<(PathBuf, Vec<u8>)>, CliError> {
    ENGINE_FORMATS
        .into_iter()
        .map(|format| {
            let path = with_extension(stem, format.extension());
            let bytes = format.encode(doc, &path)?;
            Ok((path, bytes))
        })
        .collect()
}

/// The mood table at `path`, or the default one.
pub(crate) fn mood_table(path: Option<&Path>) -> Result<MoodTable, CliError> {
    let table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            MoodTable::from_ron(&text)
        }
        None => MoodTable::default_table(),
    };
    table.map_err(|e| usage(e.to_string()))
}

/// `out` without an extension the user may have typed.
pub(crate) fn stem_of(out: &Path) -> PathBuf {
    let text = out.to_string_lossy();
    for ext in [
        ".mid",
        ".midi",
        ".melody.json",
        ".melody.ron",
        ".tone.json",
        ".wav",
    ] {
        if text.len() > ext.len() && text.to_ascii_lowercase().ends_with(ext) {
            return PathBuf::from(&text[..text.len() - ext.len()]);
        }
    }
    out.to_path_buf()
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 1_000_000)
}

/// `leitmotif generate`.
pub fn generate(args: &GenerateArgs) -> Result<(), CliError> {
    let moods = args.options.moods()?;
    let (mut request, parsed) = match &args.prompt {
        Some(prompt) => Request::from_prompt(prompt, &moods),
        None => (Request::default(), PromptControls::default()),
    };
    if let Some(bars) = args.bars {
        request.bars = bars;
    }
    request.looped |= args.looped;
    args.options.apply(&mut request)?;
    run(&args.options, &request, Some(&parsed))
}

/// `leitmotif continue`.
pub fn continue_(args: &ContinueArgs) -> Result<(), CliError> {
    let primer = read_score(&args.primer)?;
    let mut request = Request {
        task: Task::Continue { primer },
        bars: args.bars,
        ..Request::default()
    };
    args.options.apply(&mut request)?;
    run(&args.options, &request, None)
}

/// `leitmotif infill`.
pub fn infill(args: &InfillArgs) -> Result<(), CliError> {
    let score = read_score(&args.input)?;
    let layer = args.layer.as_deref().map(parse_layer).transpose()?;
    let mut request = Request {
        task: Task::Infill {
            score,
            bars: parse_bars(&args.bars)?,
            layer,
        },
        ..Request::default()
    };
    args.options.apply(&mut request)?;
    run(&args.options, &request, None)
}

fn run(
    options: &ComposeArgs,
    request: &Request,
    parsed: Option<&PromptControls>,
) -> Result<(), CliError> {
    request
        .validate()
        .map_err(leitmotif_compose::ComposeError::from)?;
    // Checked (and the SoundFont loaded) before the model runs: bad options cost nothing.
    let render = options
        .wav
        .then(|| render_options(options.soundfont.as_deref(), options.sample_rate))
        .transpose()?;
    let composer = options.composer()?;
    let composition = composer.compose(request)?;
    // Every file is encoded (and the audio rendered) before any is written.
    let stem = options.stem();
    let mut files = engine_files(&stem, &composition.document())?;
    let audio = match &render {
        Some(render) => {
            let audio = render_score(&composition.score, render)?;
            files.push((with_extension(&stem, ".wav"), encode_wav(&audio)?));
            Some(audio)
        }
        None => None,
    };
    let files = write_all(&files)?;
    let mut out = std::io::stdout().lock();
    let _ = report(&mut out, &composition, &files, parsed);
    let _ = report_feel(&mut out, request, &composition);
    if let (Some(render), Some(audio)) = (&render, &audio) {
        let _ = report_audio(&mut out, &composition, render, audio);
    }
    Ok(())
}

/// The chords and the feel asked for, and how the melody sits on the chords.
fn report_feel(out: &mut impl Write, request: &Request, c: &Composition) -> std::io::Result<()> {
    if !request.chords.is_empty() {
        let names: Vec<String> = request
            .chords
            .iter()
            .map(|ch| ch.name(c.key.spelling()))
            .collect();
        let share = share_under(&c.score, c.span.0, c.span.1, &request.chords)
            .map_or_else(String::new, |s| format!("; {}", chord_tone_line(s)));
        writeln!(out, "  chords {} (one a bar){share}", names.join(" "))?;
    }
    if request.humanize > 0.0 || request.swing > 0.0 {
        writeln!(
            out,
            "  feel humanize {}, swing {}",
            request.humanize, request.swing
        )?;
    }
    Ok(())
}

fn report_audio(
    out: &mut impl Write,
    c: &Composition,
    render: &RenderOptions,
    audio: &Audio,
) -> std::io::Result<()> {
    let tracks: Vec<String> = c
        .score
        .tracks
        .iter()
        .map(|t| {
            let instrument = Instrument::for_track(t, render.soundfont.as_ref());
            format!("{} {}", t.role, describe(&instrument))
        })
        .collect();
    writeln!(
        out,
        "  audio {} at {} Hz, peak {} dBFS: {}",
        clock(audio.duration_seconds()),
        audio.sample_rate,
        dbfs(audio.peak()),
        tracks.join(", ")
    )
}

fn report(
    out: &mut impl Write,
    c: &Composition,
    files: &[PathBuf],
    parsed: Option<&PromptControls>,
) -> std::io::Result<()> {
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    writeln!(out, "wrote {}", names.join(", "))?;
    writeln!(
        out,
        "  key {}, {} bpm, {}, bars {}-{} of {}{}",
        c.key,
        c.tempo_bpm,
        c.meter,
        c.bars.start(),
        c.bars.end(),
        c.total_bars,
        if c.looped { ", looped" } else { "" }
    )?;
    let layers: Vec<String> = c
        .layers
        .iter()
        .map(|l| {
            format!(
                "{} ({}, {} notes)",
                l.layer.role().as_str(),
                l.source.as_str(),
                l.notes
            )
        })
        .collect();
    writeln!(out, "  layers {}", layers.join(", "))?;
    writeln!(
        out,
        "  seed {}, model {}, backend {}, {} tokens, {:.2} s",
        c.seed,
        c.model,
        c.backend,
        c.tokens,
        c.elapsed.as_secs_f64()
    )?;
    if let Some(bits) = c.join_bits {
        let mean = c.candidate_bits.iter().sum::<f64>() / c.candidate_bits.len().max(1) as f64;
        let n = c.candidate_bits.len();
        writeln!(
            out,
            "  {} scored {:.3} bits/token (best of {n} candidate{}, mean {:.3})",
            if c.looped { "loop seam" } else { "join" },
            bits,
            if n == 1 { "" } else { "s" },
            mean
        )?;
    } else if c.candidate_bits.len() > 1 {
        let scores: Vec<String> = c.candidate_bits.iter().map(|b| format!("{b:.3}")).collect();
        let kept = c
            .candidate_bits
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        writeln!(
            out,
            "  drafts scored {} bits/token; kept draft {} ({}), the likeliest",
            scores.join(", "),
            kept + 1,
            scores[kept]
        )?;
    }
    if let Some(parsed) = parsed {
        if !parsed.moods.is_empty() {
            writeln!(out, "  moods {}", parsed.moods.join(", "))?;
        }
        if !parsed.unused.is_empty() {
            writeln!(out, "  words not used: {}", parsed.unused.join(" "))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_bars_and_layers_parse_or_fail_clearly() {
        assert_eq!(
            parse_curve("intensity", "0.2..0.9").ok(),
            Some(Curve::Ramp { from: 0.2, to: 0.9 })
        );
        assert_eq!(
            parse_curve("intensity", "0.5").ok(),
            Some(Curve::Constant(0.5))
        );
        assert_eq!(
            parse_curve("density", "0.1,0.9").ok(),
            Some(Curve::PerBar(vec![0.1, 0.9]))
        );
        let e = parse_curve("intensity", "0.2..3")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("--intensity \"3\" is not a number in 0..=1")
        );
        assert_eq!(parse_bars("5..8").ok(), Some(5..=8));
        assert_eq!(parse_bars("5-8").ok(), Some(5..=8));
        assert_eq!(parse_bars("3").ok(), Some(3..=3));
        assert!(parse_bars("x").is_err());
        assert_eq!(parse_layer("Drums").ok(), Some(Layer::Drums));
        assert!(parse_layer("kazoo").is_err());
    }
}
