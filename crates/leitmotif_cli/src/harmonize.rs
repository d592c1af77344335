//! The `harmonize` command: bass, chords and drums under a given melody, which is kept note
//! for note; and the chord-tone report `generate --chords` shares.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use leitmotif_arrange::{ChordToneShare, Feel, HarmonySpan, chord_tone_share, progression};
use leitmotif_compose::harmonize::{Harmonize, HarmonizeError, Harmonized, bar_slots};
use leitmotif_compose::request::parse_chords;
use leitmotif_score::theory::{Chord, Scale};
use leitmotif_score::time::BarMap;
use leitmotif_score::{Score, read_document};
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
    let layers: Vec<Layer> = args
        .layers
        .split(',')
        .map(parse_layer)
        .collect::<Result<_, _>>()?;
    let chords = args
        .chords
        .as_deref()
        .map(parse_chords)
        .transpose()?
        .unwrap_or_default();
    let key = args
        .key
        .as_deref()
        .map(|key| {
            key.parse::<Scale>()
                .map_err(|e| usage(format!("--key {key:?}: {e}")))
        })
        .transpose()?;
    let doc = read_document(&args.melody)?;
    let bars = BarMap::new(&doc.score).bars().len();
    let options = Harmonize {
        layers,
        key,
        chords,
        intensity,
        looped: args.looped,
        seed: args.seed,
        feel,
    };
    let done = match leitmotif_compose::harmonize::harmonize(&doc.score, &options) {
        Ok(done) => done,
        Err(e @ (HarmonizeError::MelodyAsked | HarmonizeError::NoLayers)) => {
            return Err(usage(format!("--layers: {e}")));
        }
        Err(HarmonizeError::Arrange(e)) => return Err(e.into()),
        Err(HarmonizeError::Present(layer)) => {
            return Err(usage(format!(
                "{}: it already has a {layer} track; leave {layer} out of --layers",
                args.melody.display()
            )));
        }
        Err(e) => return Err(usage(format!("{}: {e}", args.melody.display()))),
    };
    let Harmonized {
        score,
        key: scale,
        melody_track,
        harmony,
        added,
        share,
    } = done;
    let melody_notes = score.tracks[melody_track].notes.len();
    let added: Vec<String> = added
        .iter()
        .map(|(layer, notes)| format!("{} ({notes} notes)", layer.role().as_str()))
        .collect();
    let mut out_doc = doc;
    out_doc.score = score;
    let stem = stem_of(&args.out);
    let written = write_all(&engine_files(&stem, &out_doc)?)?;
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "wrote {}", names.join(", "));
    let _ = writeln!(
        out,
        "  key {scale}, {bars} bars, melody track {:?} kept ({melody_notes} notes)",
        out_doc.score.tracks[melody_track].name,
    );
    let _ = writeln!(
        out,
        "  harmony ({}): {}",
        if options.chords.is_empty() {
            "heard in the melody"
        } else {
            "given"
        },
        chart(&harmony, scale)
    );
    let _ = writeln!(out, "  layers {}", added.join(", "));
    let _ = writeln!(out, "  {}", chord_tone_line(share));
    Ok(())
}
