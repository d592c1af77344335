//! Audio from the `leitmotif` binary: `render` writes WAV files (the mix and one stem per
//! track) that read back with the right rate, channels and length; bad sound fonts, absurd
//! rates and unwritable outputs exit with one line and leave nothing; `play` with no audio
//! device exits 2 with one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use leitmotif_score::{Note, Role, Score, TempoChange, Track};

/// The public-domain General MIDI sound font of Debian's `csound-soundfont`.
const SOUNDFONT: &str = "/usr/share/sounds/sf2/sf_GMbank.sf2";

fn leitmotif(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leitmotif"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run leitmotif: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The sound font, or None (with a note on stderr) where the package is not installed.
fn soundfont(test: &str) -> Option<PathBuf> {
    let path = PathBuf::from(SOUNDFONT);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "{test}: skipped the SoundFont cases: {SOUNDFONT} is missing (Debian package csound-soundfont)"
        );
        None
    }
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Two bars of 4/4 at 120 bpm (four seconds): a melody in bar 1, a bass note through bar 2,
/// drums on every beat, and a chords track with no notes.
fn two_bars() -> Score {
    let mut score = Score::new(480);
    score.tempos = vec![TempoChange::from_bpm(0, 120.0).unwrap_or_else(|e| panic!("{e}"))];
    let note = |start, duration, pitch| Note {
        start,
        duration,
        pitch,
        velocity: 100,
    };
    let mut melody = Track::new("Melody", Role::Melody, 73, 0);
    melody.notes = [72, 74, 76, 77]
        .iter()
        .enumerate()
        .map(|(i, &p)| note(480 * i as u64, 480, p))
        .collect();
    let mut bass = Track::new("Bass", Role::Bass, 33, 1);
    bass.notes = vec![note(1920, 1920, 41)];
    let mut drums = Track::new("Drums", Role::Drums, 0, 9);
    drums.notes = (0..8)
        .map(|beat| note(480 * beat, 120, if beat % 2 == 0 { 36 } else { 38 }))
        .collect();
    let chords = Track::new("Chords", Role::Chords, 48, 2);
    score.tracks = vec![melody, bass, drums, chords];
    score.end_tick = 3840;
    score
}

fn write_two_bars(dir: &Path) -> PathBuf {
    let path = dir.join("two_bars.melody.json");
    leitmotif_score::write_score(&path, &two_bars()).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// A WAV read back: its header and its stereo frames.
struct Wav {
    spec: hound::WavSpec,
    frames: Vec<[i32; 2]>,
}

impl Wav {
    fn read(path: &Path) -> Wav {
        let reader = hound::WavReader::open(path)
            .unwrap_or_else(|e| panic!("{}: not a WAV: {e}", path.display()));
        let spec = reader.spec();
        let samples: Vec<i32> = reader
            .into_samples::<i16>()
            .map(|s| s.map(i32::from))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let frames = samples.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
        Wav { spec, frames }
    }

    fn seconds(&self) -> f64 {
        self.frames.len() as f64 / f64::from(self.spec.sample_rate)
    }

    /// The largest absolute sample between two times, in 16-bit steps.
    fn peak(&self, from: f64, to: f64) -> i32 {
        let rate = f64::from(self.spec.sample_rate);
        let a = ((from * rate) as usize).min(self.frames.len());
        let b = ((to * rate) as usize).min(self.frames.len());
        self.frames[a..b]
            .iter()
            .flat_map(|f| f.iter().map(|s| s.abs()))
            .max()
            .unwrap_or(0)
    }
}

/// Louder than this (about -50 dBFS) is sound, not dither.
const AUDIBLE: i32 = 100;
/// At most this (about -78 dBFS) is silence with dither.
const SILENT: i32 = 4;

#[test]
fn render_writes_the_mix_and_one_stem_per_track() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let score = write_two_bars(dir.path());
    let out = dir.path().join("two.wav");
    let o = leitmotif(&[Path::new("render"), &score, &out, Path::new("--stems")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for expected in [
        "two.wav",
        "48000 Hz",
        "16-bit stereo",
        "dBFS",
        "built-in instruments",
        "Melody",
        "built-in",
        "two.bass.wav",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let mix = Wav::read(&out);
    assert_eq!(mix.spec.sample_rate, 48_000);
    assert_eq!(mix.spec.channels, 2);
    assert_eq!(mix.spec.bits_per_sample, 16);
    assert_eq!(mix.spec.sample_format, hound::SampleFormat::Int);
    // Four seconds of music, then at most the two-second release tail.
    assert!(
        (4.0..=6.05).contains(&mix.seconds()),
        "mix lasts {} s",
        mix.seconds()
    );
    assert!(mix.peak(0.0, 4.0) > AUDIBLE, "the mix is silent");
    assert!(
        mix.peak(0.0, mix.seconds()) < i32::from(i16::MAX),
        "the mix clips"
    );

    // Where each track has notes, its stem sounds; the empty chords track is silent.
    for (name, from, to, sounds) in [
        ("melody", 0.0, 2.0, true),
        ("bass", 2.0, 4.0, true),
        ("drums", 0.0, 4.0, true),
        ("chords", 0.0, 6.0, false),
    ] {
        let path = dir.path().join(format!("two.{name}.wav"));
        let stem = Wav::read(&path);
        assert_eq!(stem.spec, mix.spec, "{name}");
        assert_eq!(stem.frames.len(), mix.frames.len(), "{name}: length");
        let peak = stem.peak(from, to);
        if sounds {
            assert!(peak > AUDIBLE, "{name} is silent where it has notes");
        } else {
            assert!(peak <= SILENT, "{name} has no notes but peaks at {peak}");
        }
    }
    // The melody stem holds the melody alone: nothing where only the bass plays, once the
    // last melody note has had a second to die away.
    let melody = Wav::read(&dir.path().join("two.melody.wav"));
    assert!(
        melody.peak(3.5, 4.0) < melody.peak(0.0, 2.0) / 30,
        "the melody stem carries other tracks"
    );
    assert_eq!(
        listing(dir.path()),
        [
            "two.bass.wav",
            "two.chords.wav",
            "two.drums.wav",
            "two.melody.wav",
            "two.wav",
            "two_bars.melody.json"
        ],
        "stray or missing files"
    );
}

#[test]
fn render_honours_the_sample_rate_and_a_soundfont() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let score = write_two_bars(dir.path());
    let out = dir.path().join("low.wav");
    let o = leitmotif(&[
        Path::new("render"),
        &score,
        &out,
        Path::new("--sample-rate"),
        Path::new("22050"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let wav = Wav::read(&out);
    assert_eq!(wav.spec.sample_rate, 22_050);
    assert!((4.0..=6.05).contains(&wav.seconds()), "{} s", wav.seconds());

    let Some(font) = soundfont("render_honours_the_sample_rate_and_a_soundfont") else {
        return;
    };
    let out = dir.path().join("sf.wav");
    let o = leitmotif(&[
        Path::new("render"),
        &score,
        &out,
        Path::new("--soundfont"),
        &font,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for expected in ["SoundFont sf_GMbank.sf2", "program 73 (flute)", "drum kit"] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let wav = Wav::read(&out);
    assert_eq!(wav.spec.sample_rate, 48_000);
    assert!(
        wav.peak(0.0, 4.0) > AUDIBLE,
        "the SoundFont render is silent"
    );
}

#[test]
fn bad_soundfonts_and_rates_exit_2_naming_them_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let score = write_two_bars(dir.path());
    let text = dir.path().join("notes.sf2");
    std::fs::write(&text, "these are not samples\n").unwrap_or_else(|e| panic!("{e}"));
    let mut fonts = vec![dir.path().join("missing.sf2"), text];
    if let Some(font) = soundfont("bad_soundfonts_and_rates_exit_2_naming_them_and_write_nothing") {
        let mut bytes = std::fs::read(font).unwrap_or_else(|e| panic!("{e}"));
        bytes.truncate(bytes.len() / 2);
        let truncated = dir.path().join("truncated.sf2");
        std::fs::write(&truncated, bytes).unwrap_or_else(|e| panic!("{e}"));
        fonts.push(truncated);
    }
    let before = listing(dir.path());
    let out = dir.path().join("out.wav");
    let mut cases: Vec<(Vec<&Path>, String)> = Vec::new();
    for font in &fonts {
        let name = font
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let args = vec![Path::new("render"), &score, &out, Path::new("--stems")];
        cases.push((
            [args, vec![Path::new("--soundfont"), font.as_path()]].concat(),
            name.clone(),
        ));
        let args = vec![Path::new("play"), &score, Path::new("--soundfont"), font];
        cases.push((args, name));
    }
    for rate in ["0", "1000", "1000000"] {
        let args = vec![
            Path::new("render"),
            &score,
            &out,
            Path::new("--sample-rate"),
            Path::new(rate),
        ];
        cases.push((args, "--sample-rate".to_owned()));
    }
    let not_wav = dir.path().join("out.mp3");
    cases.push((
        vec![Path::new("render"), &score, &not_wav],
        ".wav".to_owned(),
    ));
    for (args, needle) in &cases {
        let o = leitmotif(args);
        let message = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(
            message.starts_with("error: ") && message.contains(needle.as_str()),
            "{args:?}: {message}"
        );
        assert_eq!(listing(dir.path()), before, "{args:?} left files behind");
    }
}

#[test]
fn an_unwritable_output_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let score = write_two_bars(dir.path());
    let render = |out: &Path| leitmotif(&[Path::new("render"), &score, out, Path::new("--stems")]);

    // The output's folder does not exist.
    let o = render(&dir.path().join("nowhere").join("out.wav"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("out.wav"), "{}", stderr(&o));

    // A folder stands where a stem should go: no file of the set appears.
    std::fs::create_dir(dir.path().join("out.drums.wav")).unwrap_or_else(|e| panic!("{e}"));
    let o = render(&dir.path().join("out.wav"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("out.drums.wav"), "{}", stderr(&o));
    assert_eq!(
        listing(dir.path()),
        ["out.drums.wav", "two_bars.melody.json"],
        "a failed render left files behind"
    );

    // A folder the user may not write to (not testable as root, who may write anywhere).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap_or_else(|e| panic!("{e}"));
        let mode = |m| std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(m));
        mode(0o555).unwrap_or_else(|e| panic!("{e}"));
        let probe = locked.join("probe");
        if std::fs::write(&probe, b"").is_ok() {
            let _ = std::fs::remove_file(&probe);
        } else {
            let o = render(&locked.join("out.wav"));
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
            assert!(listing(&locked).is_empty(), "left {:?}", listing(&locked));
        }
        mode(0o755).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn play_without_an_audio_device_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut score = two_bars();
    // Short, in case this machine has a device and really plays it.
    score.tracks.retain(|t| t.role == Role::Melody);
    score.tracks[0].notes.truncate(1);
    score.end_tick = 480;
    let path = dir.path().join("one_note.mid");
    leitmotif_score::write_score(&path, &score).unwrap_or_else(|e| panic!("{e}"));
    let o = leitmotif(&[Path::new("play"), &path]);
    if o.status.success() {
        // This machine has an audio device, and the note was played on it.
        assert!(stdout(&o).contains("playing"), "{}", stdout(&o));
        return;
    }
    let message = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: no audio output device ("),
        "{message}"
    );
}
