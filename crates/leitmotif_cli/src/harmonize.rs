//! The `harmonize` command: bass, chords and drums under a given melody, which is kept note
//! for note; and the chord-tone report `generate --chords` shares.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use leitmotif_arrange::{
    ArrangeSettings, BarSlot, ChordToneShare, Feel, HarmonySpan, Humanizer, arrange, arrange_on,
    chord_tone_share, progression,
};
use leitmotif_compose::request::{allowed_pitch_classes, parse_chords};
use leitmotif_score::theory::{Chord, PitchClass, Scale, estimate_key, pitch_class_histogram};
use leitmotif_score::time::BarMap;
use leitmotif_score::{Note, Score, Track, read_document};
use leitmotif_tokens::{Layer, assign_layers};

use crate::CliError;
use crate::audio::write_all;
use crate::compose::{engine_files, parse_curve, parse_layer, stem_of, usage};

/// `leitmotif harmonize`.
#[derive(Debug, Args)]
pub struct HarmonizeArgs {
    /// The melody (.mid, .midi, .melody.json, .melody.ron or .tone.json). Its melody track
    /// (the track whose role is melody, else the first other pitched track) is kept note for
    /// note, and so is every other track.
    melody: PathBuf,
    /// Layers to add: any of bass, chords, drums, comma-separated.
    #[arg(long, default_value = "bass,chords,drums")]
    layers: String,
    /// Play these chords, one a bar, cycling ("Am F C G"), instead of the harmony the
    /// arranger hears in the melody.
    #[arg(long)]
    chords: Option<String>,
    /// The key, e.g. "D minor" (default: estimated from the melody).
    #[arg(long)]
    key: Option<String>,
    /// Intensity 0..1: one value, a ramp "0.2..0.9" over the bars, or one value per bar
    /// "0.2,0.5,0.9".
    #[arg(long, default_value = "0.5")]
    intensity: String,
    /// The melody loops: the last bar leads back to the first chord instead of the tonic.
    #[arg(long = "loop")]
    looped: bool,
    /// Seed of the arranger's choices and of the feel.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How loosely the added layers are played, 0 (exact grid) to 1.
    #[arg(long, default_value_t = 0.0)]
    humanize: f64,
    /// Swing of the added layers, 0 (straight) to 1 (triplet).
    #[arg(long, default_value_t = 0.0)]
    swing: f64,
    /// Output name: writes OUT.mid, OUT.melody.json and OUT.tone.json.
    #[arg(short, long)]
    out: PathBuf,
}

/// The bars of `score` from `lo` to `hi` as the arranger sees them, intensity from `level`
/// (bar index, bar count).
pub fn bar_slots(
    score: &Score,
    lo: u64,
    hi: u64,
    level: impl Fn(usize, usize) -> f64,
) -> Vec<BarSlot> {
    let map = BarMap::new(score);
    let bars: Vec<_> = map
        .bars()
        .iter()
        .filter(|b| b.start >= lo && b.start < hi)
        .collect();
    let n = bars.len();
    bars.iter()
        .enumerate()
        .map(|(i, b)| BarSlot {
            start: b.start,
            ticks: b.len,
            meter: b.meter,
            intensity: level(i, n),
        })
        .collect()
}

/// One line on how the melody sits on `harmony`: its strong-beat notes that are chord tones.
pub fn chord_tone_line(share: ChordToneShare) -> String {
    match share.share() {
        Some(s) => format!(
            "chord tones on strong beats: {} of {} melody notes ({:.0} %)",
            share.chord_tones,
            share.strong,
            100.0 * s
        ),
        None => "chord tones on strong beats: no melody note starts on a strong beat".to_owned(),
    }
}

/// The chord-tone share of `score`'s melody over `lo..hi` under `chords`, one a bar.
pub fn share_under(score: &Score, lo: u64, hi: u64, chords: &[Chord]) -> Option<ChordToneShare> {
    let bars = bar_slots(score, lo, hi, |_, _| 0.5);
    let harmony = progression(chords, &bars).ok()?;
    let melody = assign_layers(score)
        .iter()
        .position(|l| *l == Layer::Melody)
        .map(|i| score.tracks[i].notes.clone())?;
    Some(chord_tone_share(&melody, &harmony, &bars, score.ppq))
}

/// The harmony span by span, as chord symbols with bar lines.
fn chart(harmony: &[HarmonySpan], scale: Scale) -> String {
    let names: Vec<String> = harmony
        .iter()
        .map(|s| s.chord.name(scale.spelling()))
        .collect();
    names.join(" | ")
}

/// `leitmotif harmonize`.
pub fn harmonize(args: &HarmonizeArgs) -> Result<(), CliError> {
    let feel = Feel {
        humanize: args.humanize,
        swing: args.swing,
    };
    feel.validate().map_err(|e| usage(format!("--{e}")))?;
    let intensity = parse_curve("intensity", &args.intensity)?;
    let mut layers: Vec<Layer> = args
        .layers
        .split(',')
        .map(parse_layer)
        .collect::<Result<_, _>>()?;
    layers.sort();
    layers.dedup();
    if layers.contains(&Layer::Melody) {
        return Err(usage(
            "--layers: the melody is given; add bass, chords or drums".to_owned(),
        ));
    }
    let chords = args
        .chords
        .as_deref()
        .map(parse_chords)
        .transpose()?
        .unwrap_or_default();
    let doc = read_document(&args.melody)?;
    let mut score = doc.score.clone();
    let present = assign_layers(&score);
    let Some(melody_track) = present.iter().position(|l| *l == Layer::Melody) else {
        return Err(usage(format!(
            "{}: no melody track (a pitched track with notes)",
            args.melody.display()
        )));
    };
    if let Some(layer) = layers.iter().find(|l| present.contains(l)) {
        return Err(usage(format!(
            "{}: it already has a {} track; leave {} out of --layers",
            args.melody.display(),
            layer.role().as_str(),
            layer.role().as_str()
        )));
    }
    let melody: Vec<Note> = score.tracks[melody_track].notes.clone();
    if melody.is_empty() {
        return Err(usage(format!(
            "{}: the melody track has no notes",
            args.melody.display()
        )));
    }
    let scale = match &args.key {
        Some(key) => key
            .parse::<Scale>()
            .map_err(|e| usage(format!("--key {key:?}: {e}")))?,
        None => {
            let histogram =
                pitch_class_histogram(melody.iter().map(|n| (n.pitch, n.duration as f64)));
            estimate_key(&histogram).map_or_else(
                || {
                    Scale::new(
                        PitchClass::from_midi(melody[0].pitch),
                        leitmotif_score::theory::Mode::Major,
                    )
                },
                |e| Scale::from(e.key),
            )
        }
    };
    let bars = bar_slots(&score, 0, u64::MAX, |i, n| {
        intensity.at(i, n).clamp(0.0, 1.0)
    });
    let mut allowed = allowed_pitch_classes(scale);
    for pc in chords.iter().flat_map(|c| c.pitch_classes()) {
        allowed[usize::from(pc.index())] = true;
    }
    let mut settings = ArrangeSettings::new(score.ppq, allowed, scale.tonic);
    settings.looped = args.looped;
    settings.seed = args.seed;
    let parts = if chords.is_empty() {
        arrange(&melody, &bars, &settings)?
    } else {
        arrange_on(progression(&chords, &bars)?, &bars, &settings)?
    };
    let humanizer = Humanizer {
        feel,
        ppq: score.ppq,
        seed: args.seed,
        bars: &bars,
    };
    let mut added = Vec::new();
    for &layer in &layers {
        let (notes, monophonic) = match layer {
            Layer::Bass => (&parts.bass, true),
            Layer::Chords => (&parts.chords, false),
            _ => (&parts.drums, false),
        };
        let (name, program, channel) = layer.track_defaults();
        let channel = free_channel(&score, channel, layer);
        let mut track = Track::new(name, layer.role(), program, channel);
        track.notes = humanizer.part(notes, layer.index() as u64, monophonic);
        track.sort_notes();
        added.push(format!(
            "{} ({} notes)",
            layer.role().as_str(),
            track.notes.len()
        ));
        score.tracks.push(track);
    }
    score.end_tick = score.end_tick.max(score.last_note_end());
    score.validate().map_err(|e| {
        usage(format!(
            "{}: the harmonized score is invalid: {e}",
            args.melody.display()
        ))
    })?;
    let mut out_doc = doc;
    out_doc.score = score;
    let stem = stem_of(&args.out);
    let written = write_all(&engine_files(&stem, &out_doc)?)?;
    let share = chord_tone_share(&melody, &parts.harmony, &bars, out_doc.score.ppq);
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "wrote {}", names.join(", "));
    let _ = writeln!(
        out,
        "  key {scale}, {} bars, melody track {:?} kept ({} notes)",
        bars.len(),
        out_doc.score.tracks[melody_track].name,
        melody.len()
    );
    let _ = writeln!(
        out,
        "  harmony ({}): {}",
        if chords.is_empty() {
            "heard in the melody"
        } else {
            "given"
        },
        chart(&parts.harmony, scale)
    );
    let _ = writeln!(out, "  layers {}", added.join(", "));
    let _ = writeln!(out, "  {}", chord_tone_line(share));
    Ok(())
}

/// `wanted` if no track of `score` uses it, else the lowest channel no track uses (never
/// the drum channel for a pitched layer).
fn free_channel(score: &Score, wanted: u8, layer: Layer) -> u8 {
    let used = |c: u8| score.tracks.iter().any(|t| t.channel == c);
    if layer == Layer::Drums || !used(wanted) {
        return wanted;
    }
    (0..16u8).find(|&c| c != 9 && !used(c)).unwrap_or(wanted)
}
