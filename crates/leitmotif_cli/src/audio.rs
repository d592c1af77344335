//! Audio out: the `render` command, the `--wav` option of the composing commands, and the
//! all-or-nothing writing of the files they make.

use std::fs;
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use clap::Args;
use leitmotif_score::tone::instrument_name;
use leitmotif_score::{Score, read_document};
use leitmotif_synth::{
    Audio, DEFAULT_SAMPLE_RATE, Instrument, RenderOptions, SoundFont, encode_wav, render_score,
    render_stems,
};

use crate::CliError;

/// The sample rates accepted, in Hz: from telephone quality to the highest rate audio
/// interfaces offer.
pub const SAMPLE_RATES: RangeInclusive<u32> = 8_000..=384_000;

/// `leitmotif render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The score to play (.mid, .midi, .melody.json, .melody.ron or .tone.json).
    input: PathBuf,
    /// The WAV file to write: 16-bit stereo, replaced atomically.
    #[arg(value_name = "OUT.wav")]
    output: PathBuf,
    /// A sound font (an .sf2 file) to play the tracks with, each by its General MIDI
    /// program (channel 10 as a drum kit). Without one the built-in instruments play.
    #[arg(long, value_name = "FILE.sf2")]
    soundfont: Option<PathBuf>,
    /// Sample rate in Hz, 8000 to 384000 [default: 48000].
    #[arg(long, value_name = "N")]
    sample_rate: Option<u32>,
    /// Also write one WAV per track beside OUT.wav, named by its role: OUT.melody.wav,
    /// OUT.bass.wav, OUT.chords.wav, OUT.drums.wav, ... Each holds its track alone and is as
    /// long as the mix, ready for vertical layering in a game engine.
    #[arg(long)]
    stems: bool,
}

/// Checks `--sample-rate` and loads `--soundfont`: the render settings, or an error naming
/// the option or the file (exit code 2).
pub fn render_options(
    soundfont: Option<&Path>,
    sample_rate: Option<u32>,
) -> Result<RenderOptions, CliError> {
    let sample_rate = sample_rate.unwrap_or(DEFAULT_SAMPLE_RATE);
    if !SAMPLE_RATES.contains(&sample_rate) {
        return Err(CliError::Usage(format!(
            "--sample-rate {sample_rate}: give a rate from {} to {} Hz",
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end()
        )));
    }
    let soundfont = soundfont.map(SoundFont::load).transpose()?;
    Ok(RenderOptions {
        sample_rate,
        soundfont,
        ..RenderOptions::default()
    })
}

/// `path` with its extension replaced by `extension` (which starts with a dot), after
/// removing a trailing `.wav` in any case.
pub fn beside(path: &Path, extension: &str) -> PathBuf {
    let text = path.as_os_str().to_string_lossy();
    let stem = if text.len() > 4 && text.to_ascii_lowercase().ends_with(".wav") {
        &text[..text.len() - 4]
    } else {
        &text[..]
    };
    PathBuf::from(format!("{stem}{extension}"))
}

/// Writes every file or none.
///
/// A folder standing where a file should go is refused first. Then each file is written in
/// full (and synced) to a temporary file beside it; only when all of them are on disk are
/// they renamed over their targets. If any write fails, the temporary files are removed,
/// nothing is renamed, and the error names the file. (A rename failing after others
/// succeeded, which takes a disk vanishing or a folder appearing meanwhile, leaves each file
/// either whole and new or untouched.)
///
/// # Errors
/// [`CliError::Io`] naming the file the operating system refused.
pub fn write_all(files: &[(PathBuf, Vec<u8>)]) -> Result<Vec<PathBuf>, CliError> {
    if let Some((path, _)) = files.iter().find(|(path, _)| path.is_dir()) {
        return Err(CliError::Io {
            path: path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "a folder is in the way of the file",
            ),
        });
    }
    let mut staged: Vec<(PathBuf, &Path)> = Vec::with_capacity(files.len());
    let cleanup = |staged: &[(PathBuf, &Path)]| {
        for (temp, _) in staged {
            // Best effort: the error that brought us here is the one to report.
            let _ = fs::remove_file(temp);
        }
    };
    for (path, bytes) in files {
        let io = |source| CliError::Io {
            path: path.clone(),
            source,
        };
        let temp = match temp_path(path) {
            Ok(temp) => temp,
            Err(e) => {
                cleanup(&staged);
                return Err(io(e));
            }
        };
        let written = fs::File::create(&temp).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            cleanup(&staged);
            return Err(io(e));
        }
        staged.push((temp, path.as_path()));
    }
    for (i, (temp, path)) in staged.iter().enumerate() {
        if let Err(source) = fs::rename(temp, path) {
            cleanup(&staged[i..]);
            return Err(CliError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    Ok(files.iter().map(|(path, _)| path.clone()).collect())
}

/// A hidden temporary file in the same folder as `path`, so the rename stays on one disk.
fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?
        .to_string_lossy();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok(dir.join(format!(".{name}.{}.tmp", std::process::id())))
}

/// Peak level in dBFS ("-inf" for silence).
pub fn dbfs(peak: f32) -> String {
    if peak > 0.0 {
        format!("{:.1}", 20.0 * f64::from(peak).log10())
    } else {
        "-inf".to_owned()
    }
}

/// `m:ss.s`.
pub fn clock(seconds: f64) -> String {
    // Rounded to tenths first, so 59.96 s reads 1:00.0, never 0:60.0.
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    let (minutes, rest) = (tenths / 600, tenths % 600);
    format!("{minutes}:{:02}.{}", rest / 10, rest % 10)
}

/// What plays a track, in words: "built-in lead" or "`sf_GMbank.sf2` bank 0 program 40
/// (Violin)".
pub fn describe(instrument: &Instrument) -> String {
    match instrument {
        Instrument::BuiltIn(b) => format!("built-in {b}"),
        Instrument::SoundFont {
            font,
            bank,
            program,
            drums,
        } => {
            let preset = if *drums {
                "drum kit"
            } else {
                instrument_name(*program)
            };
            format!("{} bank {bank} program {program} ({preset})", font.name())
        }
    }
}

/// One line per track: number, name, role, notes and what plays it.
pub fn write_tracks(
    out: &mut impl Write,
    score: &Score,
    options: &RenderOptions,
    stems: &[PathBuf],
) -> std::io::Result<()> {
    for (i, track) in score.tracks.iter().enumerate() {
        let instrument = Instrument::for_track(track, options.soundfont.as_ref());
        let stem = stems
            .get(i)
            .map_or_else(String::new, |p| format!("  -> {}", p.display()));
        writeln!(
            out,
            "  {:>2} {:<16} {:<7} {:>5} notes  {}{stem}",
            i + 1,
            track.name,
            track.role,
            track.notes.len(),
            describe(&instrument)
        )?;
    }
    Ok(())
}

/// `leitmotif render`.
pub fn render(args: &RenderArgs) -> Result<(), CliError> {
    let is_wav = args
        .output
        .file_name()
        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".wav"));
    if !is_wav {
        return Err(CliError::Usage(format!(
            "{}: the output must be a .wav file",
            args.output.display()
        )));
    }
    let score = read_document(&args.input)?.score;
    let options = render_options(args.soundfont.as_deref(), args.sample_rate)?;
    let mix = render_score(&score, &options)?;
    let mut files = vec![(args.output.clone(), encode_wav(&mix)?)];
    let mut stem_peaks = Vec::new();
    if args.stems {
        for stem in render_stems(&score, &options)? {
            let path = beside(&args.output, &format!(".{}.wav", stem.name));
            files.push((path, encode_wav(&stem.audio)?));
            stem_peaks.push(stem.audio.peak());
        }
    }
    let written = write_all(&files)?;
    let mut out = std::io::stdout().lock();
    let _ = report(&mut out, &score, &options, &mix, &written, &stem_peaks);
    Ok(())
}

fn report(
    out: &mut impl Write,
    score: &Score,
    options: &RenderOptions,
    mix: &Audio,
    written: &[PathBuf],
    stem_peaks: &[f32],
) -> std::io::Result<()> {
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    writeln!(out, "wrote {}", names.join(", "))?;
    writeln!(
        out,
        "  {} at {} Hz, 16-bit stereo, peak {} dBFS, {}",
        clock(mix.duration_seconds()),
        mix.sample_rate,
        dbfs(mix.peak()),
        options.soundfont.as_ref().map_or_else(
            || "built-in instruments".to_owned(),
            |f| format!("SoundFont {}", f.name())
        )
    )?;
    write_tracks(out, score, options, written.get(1..).unwrap_or_default())?;
    if !stem_peaks.is_empty() {
        let peaks: Vec<String> = written
            .iter()
            .skip(1)
            .zip(stem_peaks)
            .map(|(path, peak)| {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                format!("{name} {}", dbfs(*peak))
            })
            .collect();
        writeln!(out, "  stem peaks (dBFS): {}", peaks.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_levels_and_times_read_well() {
        assert_eq!(
            beside(Path::new("out/song.WAV"), ".melody.wav"),
            PathBuf::from("out/song.melody.wav")
        );
        assert_eq!(beside(Path::new("song"), ".wav"), PathBuf::from("song.wav"));
        assert_eq!(dbfs(1.0), "0.0");
        assert_eq!(dbfs(0.5), "-6.0");
        assert_eq!(dbfs(0.0), "-inf");
        assert_eq!(clock(83.44), "1:23.4");
        assert_eq!(clock(59.96), "1:00.0");
        assert_eq!(clock(5.0), "0:05.0");
    }

    #[test]
    fn absurd_sample_rates_are_refused_before_anything_loads() {
        for rate in [0, 100, 7_999, 384_001, u32::MAX] {
            let e = render_options(None, Some(rate))
                .err()
                .map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|m| m.contains("--sample-rate")),
                "{rate}: {e:?}"
            );
        }
        let options = render_options(None, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(options.sample_rate, 48_000);
        assert!(options.soundfont.is_none());
    }

    #[test]
    fn write_all_writes_every_file_or_none() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let a = dir.path().join("a.wav");
        // The second file's folder does not exist: staging it fails after the first file
        // was staged, and the first must not appear either.
        let blocked = dir.path().join("missing").join("b.wav");
        let err = write_all(&[(a.clone(), vec![1, 2, 3]), (blocked, vec![4])]);
        assert!(matches!(err, Err(CliError::Io { ref path, .. }) if path.ends_with("b.wav")));
        let left: Vec<_> = fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "left {left:?}");
        let b = dir.path().join("b.wav");
        let written = write_all(&[(a.clone(), vec![1, 2, 3]), (b.clone(), vec![4])])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, vec![a.clone(), b.clone()]);
        assert_eq!(fs::read(&a).ok(), Some(vec![1, 2, 3]));
        assert_eq!(fs::read(&b).ok(), Some(vec![4]));
        let left = fs::read_dir(dir.path()).into_iter().flatten().count();
        assert_eq!(left, 2, "temporary files left behind");
    }
}
