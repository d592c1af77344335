//! The `inspect` report: what a score holds, as text or JSON.

use std::io::{self, Write};
use std::path::Path;

use leitmotif_score::analysis::{BarStats, analyze};
use leitmotif_score::theory::{Key, PitchClass, Spelling};
use leitmotif_score::time::{BarMap, TempoMap};
use leitmotif_score::tone::instrument_name;
use leitmotif_score::{MelodyDocument, Role};
use serde::Serialize;

/// Everything `inspect` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    file: String,
    name: String,
    ppq: u16,
    end_tick: u64,
    seconds: f64,
    bars: usize,
    tempos: Vec<TempoRow>,
    time_signatures: Vec<String>,
    key_signatures: Vec<String>,
    estimated_key: Option<String>,
    key_correlation: Option<f64>,
    tracks: Vec<TrackRow>,
    #[serde(skip)]
    spelling: Spelling,
    overall: BarStats,
    per_bar: Vec<BarStats>,
}

#[derive(Debug, Serialize)]
struct TempoRow {
    tick: u64,
    bar: usize,
    bpm: f64,
}

#[derive(Debug, Serialize)]
struct TrackRow {
    name: String,
    role: Role,
    channel: u8,
    program: u8,
    instrument: &'static str,
    notes: usize,
    lowest: Option<String>,
    highest: Option<String>,
}

impl Report {
    /// The report for the score in `doc`, read from `path`.
    pub fn new(path: &Path, doc: &MelodyDocument) -> Self {
        let score = &doc.score;
        let analysis = analyze(score);
        let key = analysis
            .stated_key
            .or(analysis.estimated_key.as_ref().map(|e| e.key));
        let spelling = key.map_or(Spelling::Sharps, |k| k.spelling());
        let name = |pitch: u8| pitch_name(pitch, spelling);
        let bar_map = BarMap::new(score);
        let tempo_map = TempoMap::new(score);
        let tracks = score
            .tracks
            .iter()
            .map(|t| {
                let lowest = t.notes.iter().map(|n| n.pitch).min();
                let highest = t.notes.iter().map(|n| n.pitch).max();
                let drums = t.role == Role::Drums;
                TrackRow {
                    name: t.name.clone(),
                    role: t.role,
                    channel: t.channel + 1,
                    program: t.program,
                    instrument: if drums {
                        "drum kit"
                    } else {
                        instrument_name(t.program)
                    },
                    notes: t.notes.len(),
                    lowest: lowest.filter(|_| !drums).map(name),
                    highest: highest.filter(|_| !drums).map(name),
                }
            })
            .collect();
        Self {
            file: path.display().to_string(),
            name: score.name.clone(),
            ppq: score.ppq,
            end_tick: score.end_tick,
            seconds: tempo_map.seconds(score.end_tick),
            bars: bar_map.len(),
            tempos: score
                .tempos
                .iter()
                .map(|t| TempoRow {
                    tick: t.tick,
                    bar: bar_map.position(t.tick).bar + 1,
                    bpm: t.bpm(),
                })
                .collect(),
            time_signatures: score
                .time_signatures
                .iter()
                .map(|t| {
                    format!(
                        "{}/{} at bar {}",
                        t.numerator,
                        t.denominator,
                        bar_map.position(t.tick).bar + 1
                    )
                })
                .collect(),
            key_signatures: score
                .key_signatures
                .iter()
                .map(|k| {
                    let name = Key::from_key_signature(k.sharps, k.minor)
                        .map_or_else(|_| "invalid".to_owned(), |key| key.name());
                    format!("{name} at bar {}", bar_map.position(k.tick).bar + 1)
                })
                .collect(),
            estimated_key: analysis.estimated_key.as_ref().map(|e| e.key.name()),
            key_correlation: analysis.estimated_key.as_ref().map(|e| e.correlation),
            tracks,
            spelling,
            overall: analysis.overall,
            per_bar: analysis.bars,
        }
    }

    /// Writes the report as readable text.
    pub fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}", self.file)?;
        if !self.name.is_empty() {
            writeln!(out, "  name:     {}", self.name)?;
        }
        let minutes = (self.seconds / 60.0).floor();
        writeln!(
            out,
            "  length:   {} bars, {} ticks at {} ppq, {}:{:04.1}",
            self.bars,
            self.end_tick,
            self.ppq,
            minutes,
            self.seconds - minutes * 60.0
        )?;
        let tempos: Vec<String> = self
            .tempos
            .iter()
            .map(|t| format!("{:.1} bpm at bar {}", t.bpm, t.bar))
            .collect();
        writeln!(
            out,
            "  tempo:    {}",
            list_or(&tempos, "120 bpm (not stated)")
        )?;
        writeln!(
            out,
            "  meter:    {}",
            list_or(&self.time_signatures, "4/4 (not stated)")
        )?;
        writeln!(
            out,
            "  key:      {}",
            list_or(&self.key_signatures, "not stated")
        )?;
        if let (Some(key), Some(r)) = (&self.estimated_key, self.key_correlation) {
            writeln!(out, "  estimate: {key} (correlation {r:.2})")?;
        }
        writeln!(out, "  tracks:   {}", self.tracks.len())?;
        for (i, t) in self.tracks.iter().enumerate() {
            let range = match (&t.lowest, &t.highest) {
                (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
                _ => "-".to_owned(),
            };
            writeln!(
                out,
                "    {i:>2} {:<16} {:<7} ch {:>2}  {:<26} {:>6} notes  {range}",
                t.name,
                t.role,
                t.channel,
                format!("{} {}", t.program, t.instrument),
                t.notes
            )?;
        }
        writeln!(
            out,
            "  overall:  {} notes, {:.2} notes/quarter, {:.2} notes/s, polyphony max {}, \
             syncopation {:.2}{}",
            self.overall.notes,
            self.overall.notes_per_quarter,
            self.overall.notes_per_second,
            self.overall.max_polyphony,
            self.overall.syncopation,
            self.overall
                .in_key_ratio
                .map_or_else(String::new, |r| format!(", in key {:.0}%", r * 100.0))
        )?;
        writeln!(
            out,
            "  bar  meter  notes  per-quarter  range      mean pitch"
        )?;
        for bar in &self.per_bar {
            let range = bar.pitch_range.map_or_else(
                || "-".to_owned(),
                |(lo, hi)| {
                    format!(
                        "{}-{}",
                        pitch_name(lo, self.spelling),
                        pitch_name(hi, self.spelling)
                    )
                },
            );
            let mean = bar
                .mean_pitch
                .map_or_else(|| "-".to_owned(), |m| format!("{m:.1}"));
            writeln!(
                out,
                "  {:>3}  {:<5}  {:>5}  {:>11.2}  {:<9}  {mean}",
                bar.bar + 1,
                bar.meter.to_string(),
                bar.notes,
                bar.notes_per_quarter,
                range
            )?;
        }
        Ok(())
    }
}

fn list_or(items: &[String], fallback: &str) -> String {
    if items.is_empty() {
        fallback.to_owned()
    } else {
        items.join(", ")
    }
}

/// A pitch's name spelled for the key, octave 4 starting at middle C ("Bb3", "F#5").
fn pitch_name(pitch: u8, spelling: Spelling) -> String {
    let octave = i32::from(pitch / 12) - 1;
    format!("{}{octave}", PitchClass::from_midi(pitch).name(spelling))
}
