//! The `vary` command: a theme stated (or developed) in a mood, and the recall measure over
//! seeds and moods.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use leitmotif_compose::request::layer_of_role;
use leitmotif_compose::theme::{Development, Theme, ThemeTarget, development, recall, statement};
use leitmotif_compose::{Composer, Composition, Curve, Mood, MoodTable, Request};
use leitmotif_score::read_score;
use leitmotif_score::theory::Scale;
use leitmotif_score::time::Meter;
use leitmotif_synth::{encode_wav, render_score};
use leitmotif_tokens::Layer;
use leitmotif_tokens::vocab::meter_index;

use crate::CliError;
use crate::audio::{render_options, write_all};
use crate::compose::{BackendArg, engine_files, load_composer, stem_of, usage, with_extension};

/// `leitmotif vary`.
#[derive(Debug, Args)]
pub struct VaryArgs {
    /// The theme (.mid, .midi, .melody.json, .melody.ron or .tone.json): its melody track.
    theme: PathBuf,
    /// The mood it is stated in, by name or word (with --measure: a comma-separated list).
    #[arg(long)]
    mood: String,
    /// Bars of the phrase [default: the fitted theme's length; 4 with --measure].
    #[arg(long)]
    bars: Option<u32>,
    /// Use only the first N bars of THEME as the theme.
    #[arg(long, value_name = "N")]
    theme_bars: Option<u32>,
    /// Seed of the arranger and of the model.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Key and mode, e.g. "D minor" [default: the mood's key rule from the theme's key].
    #[arg(long)]
    key: Option<String>,
    /// Tempo in quarter notes per minute [default: the mood's].
    #[arg(long)]
    tempo: Option<f64>,
    /// Meter, e.g. 3/4 [default: the theme's own].
    #[arg(long)]
    meter: Option<String>,
    /// Develop the theme instead of stating it: continue (the model goes on from the
    /// statement), ending (a new second half), sequence, inversion or fragment (a head the
    /// model finishes). Needs the model.
    #[arg(long, value_name = "KIND")]
    develop: Option<String>,
    /// Measure recall over this many seeds for each mood of --mood: statements, each
    /// development, and phrases composed without the theme; prints a table, writes nothing.
    #[arg(long, value_name = "SEEDS")]
    measure: Option<u64>,
    /// `rnn`, `transformer` (the embedded defaults) or a weights file.
    #[arg(long, default_value = "transformer")]
    model: String,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// A mood table (`*.moods.ron`) instead of the default one.
    #[arg(long)]
    moods: Option<PathBuf>,
    /// Also write OUT.wav, played by the built-in instruments.
    #[arg(long)]
    wav: bool,
    /// Output name: writes OUT.mid, OUT.melody.json and OUT.tone.json (and OUT.wav).
    #[arg(short, long, required_unless_present = "measure")]
    out: Option<PathBuf>,
}

impl VaryArgs {
    fn table(&self) -> Result<MoodTable, CliError> {
        crate::compose::mood_table(self.moods.as_deref())
    }

    fn theme(&self) -> Result<Theme, CliError> {
        let score = read_score(&self.theme)?;
        let theme = Theme::from_score(&score).map_err(|e| theme_error(&self.theme, &e))?;
        match self.theme_bars {
            Some(0) => Err(usage("--theme-bars must be at least 1".to_owned())),
            Some(bars) => theme.head(bars).map_err(|e| theme_error(&self.theme, &e)),
            None => Ok(theme),
        }
    }

    fn composer(&self) -> Result<Composer, CliError> {
        load_composer(&self.model, self.backend)
    }

    /// The target `mood` gives the theme, with the options' overrides.
    fn target(&self, theme: &Theme, mood: &Mood, bars: Option<u32>) -> Result<Target, CliError> {
        let key: Scale = match &self.key {
            Some(text) => text
                .parse()
                .map_err(|e| usage(format!("--key {text:?}: {e}")))?,
            None => mood
                .key
                .key_after(Some(theme.key()), mood.mode)
                .unwrap_or(theme.key()),
        };
        let meter = match &self.meter {
            Some(text) => text
                .split_once('/')
                .and_then(|(n, d)| {
                    Some(Meter {
                        numerator: n.trim().parse().ok()?,
                        denominator: d.trim().parse().ok()?,
                    })
                })
                .ok_or_else(|| usage(format!("--meter {text:?}: write it as 3/4")))?,
            None if meter_index(theme.meter().numerator, theme.meter().denominator).is_some() => {
                theme.meter()
            }
            None => Meter::COMMON,
        };
        let mut target = ThemeTarget::for_mood(mood, key, meter);
        if let Some(bpm) = self.tempo {
            target.bpm = bpm;
        }
        target.bars = bars;
        let layers: Vec<Layer> = mood
            .layers
            .iter()
            .filter_map(|r| layer_of_role(*r))
            .collect();
        let base = Request {
            layers: layers.iter().copied().chain([Layer::Melody]).collect(),
            density: Curve::Constant(mood.density),
            register: Curve::Constant(mood.register),
            intensity: Curve::Constant(mood.intensity),
            humanize: mood.humanize,
            mode: mood.mode,
            seed: self.seed,
            ..Request::default()
        };
        Ok(Target {
            target,
            base,
            intensity: mood.intensity,
        })
    }
}

/// What a mood makes of a theme: the fitted target and the composer's base request.
struct Target {
    target: ThemeTarget,
    base: Request,
    intensity: f64,
}

fn theme_error(path: &std::path::Path, e: &leitmotif_compose::theme::ThemeError) -> CliError {
    usage(format!("{}: {e}", path.display()))
}

fn mood<'a>(table: &'a MoodTable, name: &str) -> Result<&'a Mood, CliError> {
    table.lookup(name.trim()).map(|(_, m)| m).ok_or_else(|| {
        let known: Vec<&str> = table.moods.keys().map(String::as_str).collect();
        usage(format!(
            "unknown mood {name:?} (moods: {})",
            known.join(", ")
        ))
    })
}

/// `leitmotif vary`.
pub fn vary(args: &VaryArgs) -> Result<(), CliError> {
    let table = args.table()?;
    let theme = args.theme()?;
    let kind = args
        .develop
        .as_deref()
        .map(str::parse::<Development>)
        .transpose()
        .map_err(|e| usage(format!("--develop: {e}")))?;
    if let Some(seeds) = args.measure {
        return measure(args, &table, &theme, seeds);
    }
    let mood = mood(&table, &args.mood)?;
    let t = args.target(&theme, mood, args.bars)?;
    let render = args.wav.then(|| render_options(None, None)).transpose()?;
    let (composition, span) = match kind {
        None => {
            let c = statement(&theme, &t.target, &t.base.layers, t.intensity, args.seed)
                .map_err(|e| theme_error(&args.theme, &e))?;
            let span = c.span;
            (c, span)
        }
        Some(kind) => {
            let request = development(&theme, kind, &t.target, &t.base)
                .map_err(|e| theme_error(&args.theme, &e))?;
            let c = args.composer()?.compose(&request)?;
            let span = kind.phrase_span(&c);
            (c, span)
        }
    };
    let stem = stem_of(args.out.as_deref().unwrap_or(std::path::Path::new("vary")));
    let mut files = engine_files(&stem, &composition.document())?;
    if let Some(render) = &render {
        let audio = render_score(&composition.score, render)?;
        files.push((with_extension(&stem, ".wav"), encode_wav(&audio)?));
    }
    let written = write_all(&files)?;
    let r = recall(&theme, &composition.score, Some(span));
    let mut out = std::io::stdout().lock();
    let _ = report(&mut out, &theme, &composition, &written, kind, r);
    Ok(())
}

fn report(
    out: &mut impl Write,
    theme: &Theme,
    c: &Composition,
    files: &[PathBuf],
    kind: Option<Development>,
    r: leitmotif_compose::theme::Recall,
) -> std::io::Result<()> {
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    writeln!(out, "wrote {}", names.join(", "))?;
    writeln!(
        out,
        "  theme: {} bars in {} at {:.0} bpm in {}, {} notes",
        theme.bars(),
        theme.key(),
        theme.bpm(),
        theme.meter(),
        theme.notes().len()
    )?;
    let factor = c
        .controls
        .get("theme_time_factor")
        .and_then(|v| match v {
            leitmotif_score::ControlValue::Number(f) => Some(format!(", time ×{f}")),
            _ => None,
        })
        .unwrap_or_default();
    writeln!(
        out,
        "  {}: {} bars in {} at {:.0} bpm in {}{factor}",
        kind.map_or("statement".to_owned(), |k| format!("development ({k})")),
        c.total_bars,
        c.key,
        c.tempo_bpm,
        c.meter
    )?;
    let layers: Vec<String> = c
        .layers
        .iter()
        .map(|l| {
            format!(
                "{} ({}, {} notes)",
                l.layer.role(),
                l.source.as_str(),
                l.notes
            )
        })
        .collect();
    writeln!(out, "  layers: {}", layers.join(", "))?;
    writeln!(
        out,
        "  theme recall {:.2} (rhythm {:.2}, degrees {:.2}) at tick {}, {:+} steps, time ×{}",
        r.score, r.rhythm, r.degrees, r.tick, r.steps, r.factor
    )
}

/// Mean, lowest and highest of `values`.
fn summary(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".to_owned();
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{mean:.2} ({lo:.2}-{hi:.2})")
}

/// Recall of statements, each development and phrases composed without the theme, over
/// `seeds` seeds for each mood.
fn measure(args: &VaryArgs, table: &MoodTable, theme: &Theme, seeds: u64) -> Result<(), CliError> {
    if seeds == 0 {
        return Err(usage("--measure needs at least one seed".to_owned()));
    }
    let composer = args.composer()?;
    let bars = args.bars.unwrap_or(4);
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    let mut add = |name: String, value: f64| match rows.iter_mut().find(|(n, _)| *n == name) {
        Some((_, values)) => values.push(value),
        None => rows.push((name, vec![value])),
    };
    let mut out = std::io::stdout().lock();
    for name in args.mood.split(',') {
        let mood = mood(table, name)?;
        let name = name.trim();
        for seed in 0..seeds {
            let mut t = args.target(theme, mood, Some(bars))?;
            t.base.seed = seed;
            let stated = statement(theme, &t.target, &t.base.layers, t.intensity, seed)
                .map_err(|e| theme_error(&args.theme, &e))?;
            let r = recall(theme, &stated.score, Some(stated.span)).score;
            add(format!("{name} statement"), r);
            add("all statement".to_owned(), r);
            for kind in Development::ALL {
                let request = development(theme, kind, &t.target, &t.base)
                    .map_err(|e| theme_error(&args.theme, &e))?;
                let c = composer.compose(&request)?;
                let r = recall(theme, &c.score, Some(kind.phrase_span(&c))).score;
                add(format!("{name} {kind}"), r);
                add(format!("all {kind}"), r);
                add("all developments".to_owned(), r);
            }
            // The baseline: the same mood, key, tempo, meter and bars, without the theme.
            let request = Request {
                key: Some(t.target.key),
                tempo_bpm: Some(t.target.bpm),
                meter: Some((t.target.meter.numerator, t.target.meter.denominator)),
                bars,
                ..t.base.clone()
            };
            let c = composer.compose(&request)?;
            let r = recall(theme, &c.score, Some(c.span)).score;
            add(format!("{name} without theme"), r);
            add("all without theme".to_owned(), r);
        }
        let _ = writeln!(out, "measured {name}");
    }
    let _ = writeln!(
        out,
        "theme recall over {seeds} seeds, {bars}-bar phrases: mean (lowest-highest)"
    );
    for (name, values) in &rows {
        let _ = writeln!(out, "  {name:<28} {}", summary(values));
    }
    Ok(())
}
