//! Writes a library of loops, one per mood and intensity, with a JSON index, ready to drop
//! into a Unity or Unreal Engine project (each loop as .mid, .melody.json and .tone.json).
//!
//! `cargo run -p bevy_leitmotif --example export_for_engines -- --out target/loops`

use std::io::Write;
use std::path::PathBuf;

use leitmotif_compose::request::layer_of_role;
use leitmotif_compose::{Composer, Curve, MoodTable, Request};
use leitmotif_director::sanitize_name;
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;
use leitmotif_score::files::write_atomic;
use serde::Serialize;

/// One loop in the index.
#[derive(Serialize)]
struct Entry {
    mood: String,
    intensity: f64,
    key: String,
    tempo_bpm: f64,
    meter: String,
    bars: u32,
    seconds: f64,
    layers: Vec<String>,
    midi: String,
    melody_json: String,
    tone_json: String,
    seed: u64,
    model: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = PathBuf::from("target/loops");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--out", Some(dir)) => out = PathBuf::from(dir),
            _ => return Err("usage: export_for_engines [--out DIR]".into()),
        }
    }
    std::fs::create_dir_all(&out)?;
    let composer = Composer::load(&ModelSource::DefaultTransformer, BackendChoice::Auto)?;
    let table = MoodTable::default_table()?;
    let mut index = Vec::new();
    for (i, (name, mood)) in table.moods.iter().enumerate() {
        for (level, intensity) in [("low", 0.2), ("mid", 0.5), ("high", 0.9)] {
            let seed = 1000 + i as u64 * 10 + (intensity * 10.0) as u64;
            let mut layers: Vec<_> = mood
                .layers_at(intensity)
                .into_iter()
                .filter_map(layer_of_role)
                .collect();
            layers.sort();
            let request = Request {
                mode: mood.mode,
                key: mood.key.key_after(None, mood.mode),
                tempo_bpm: Some(mood.tempo_bpm),
                density: Curve::Constant(mood.density),
                register: Curve::Constant(mood.register),
                intensity: Curve::Constant(intensity),
                layers,
                bars: 8,
                looped: true,
                seed,
                ..Request::default()
            };
            let loop_ = composer.compose(&request)?;
            let stem = format!("{}_{level}", sanitize_name(name));
            let files = loop_.write(&out.join(&stem))?;
            let file = |i: usize| {
                files[i]
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            index.push(Entry {
                mood: name.clone(),
                intensity,
                key: loop_.key.to_string(),
                tempo_bpm: loop_.tempo_bpm,
                meter: loop_.meter.to_string(),
                bars: loop_.total_bars,
                seconds: f64::from(loop_.total_bars) * f64::from(loop_.meter.numerator) * 4.0
                    / f64::from(loop_.meter.denominator)
                    * 60.0
                    / loop_.tempo_bpm,
                layers: loop_
                    .layers
                    .iter()
                    .map(|l| l.layer.role().as_str().to_owned())
                    .collect(),
                midi: file(0),
                melody_json: file(1),
                tone_json: file(2),
                seed,
                model: loop_.model.clone(),
            });
        }
    }
    let json = serde_json::to_string_pretty(&index)?;
    write_atomic(&out.join("index.json"), json.as_bytes())?;
    writeln!(
        std::io::stdout().lock(),
        "wrote {} loops and index.json to {}",
        index.len(),
        out.display()
    )?;
    Ok(())
}
