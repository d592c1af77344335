//! Typed errors that name what is wrong: bad SoundFonts, unwritable WAV paths, absurd
//! parameters.

mod common;

use std::path::Path;

use leitmotif_synth::{
    Audio, BuiltIn, Engine, EngineSettings, Instrument, RenderOptions, SoundFont, SynthError,
    render_score, write_wav,
};

fn soundfont_error(result: Result<SoundFont, SynthError>, path: &Path) -> String {
    match result {
        Err(error @ SynthError::SoundFont { .. }) => {
            let SynthError::SoundFont { path: named, .. } = &error else {
                unreachable!()
            };
            assert_eq!(named, path);
            let message = error.to_string();
            assert!(
                message.contains(&*path.to_string_lossy()),
                "the message names the file: {message}"
            );
            message
        }
        Err(other) => panic!("wrong error for {}: {other}", path.display()),
        Ok(_) => panic!("{} loaded", path.display()),
    }
}

#[test]
fn a_missing_soundfont_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.sf2");
    let message = soundfont_error(SoundFont::load(&path), &path);
    assert!(message.contains("no such file"), "{message}");
}

#[test]
fn a_truncated_soundfont_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A RIFF header announcing more than the file holds.
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&100_000u32.to_le_bytes());
    bytes.extend_from_slice(b"sfbkLIST");
    bytes.extend_from_slice(&[0; 40]);
    let path = dir.path().join("cut.sf2");
    std::fs::write(&path, &bytes).unwrap();
    let message = soundfont_error(SoundFont::load(&path), &path);
    assert!(message.contains("truncated"), "{message}");

    // The real bank, cut in half.
    if let Ok(full) = std::fs::read(common::GM_BANK) {
        let path = dir.path().join("half.sf2");
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        let message = soundfont_error(SoundFont::load(&path), &path);
        assert!(message.contains("truncated"), "{message}");
        // And cut inside its chunk headers, with the RIFF size patched to match.
        let mut head = full[..300].to_vec();
        head[4..8].copy_from_slice(&292u32.to_le_bytes());
        let message = soundfont_error(
            SoundFont::from_bytes("head.sf2", &head),
            Path::new("head.sf2"),
        );
        assert!(message.contains("truncated"), "{message}");
    } else {
        eprintln!("skipping the real-bank part: {} is absent", common::GM_BANK);
    }
}

#[test]
fn a_file_that_is_not_a_soundfont_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.sf2");
    std::fs::write(&text, "this is not a SoundFont").unwrap();
    let message = soundfont_error(SoundFont::load(&text), &text);
    assert!(message.contains("not a SoundFont 2"), "{message}");

    // A WAV file is RIFF too, of the wrong type.
    let wav = dir.path().join("sound.sf2");
    let audio = Audio {
        sample_rate: 48_000,
        frames: vec![[0.1, -0.1]; 100],
    };
    write_wav(&wav, &audio).unwrap();
    let message = soundfont_error(SoundFont::load(&wav), &wav);
    assert!(message.contains("'WAVE'"), "{message}");

    let empty = dir.path().join("empty.sf2");
    std::fs::write(&empty, b"").unwrap();
    let message = soundfont_error(SoundFont::load(&empty), &empty);
    assert!(message.contains("empty"), "{message}");
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_unwritable_wav_path_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let audio = Audio {
        sample_rate: 48_000,
        frames: vec![[0.25, -0.25]; 4800],
    };
    // The target is a directory: the temporary file is written, the rename fails, and
    // the temporary file must be gone.
    let occupied = dir.path().join("taken.wav");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("keep"), b"x").unwrap();
    let before = listing(dir.path());
    let error = write_wav(&occupied, &audio).unwrap_err();
    assert!(
        matches!(&error, SynthError::Wav { path, .. } if path == &occupied),
        "{error}"
    );
    assert!(error.to_string().contains("taken.wav"), "{error}");
    assert_eq!(listing(dir.path()), before, "nothing was left beside it");
    assert_eq!(listing(&occupied), ["keep"]);

    // A directory that does not exist.
    let missing = dir.path().join("no").join("such").join("out.wav");
    let error = write_wav(&missing, &audio).unwrap_err();
    assert!(matches!(&error, SynthError::Wav { path, .. } if path == &missing));
    assert!(!missing.exists());
    assert_eq!(listing(dir.path()), before);

    // And a good path works, leaving only the file.
    let good = dir.path().join("good.wav");
    write_wav(&good, &audio).unwrap();
    let mut expected = before.clone();
    expected.push("good.wav".to_owned());
    expected.sort();
    assert_eq!(listing(dir.path()), expected);
    let reader = hound::WavReader::open(&good).unwrap();
    assert_eq!(reader.spec().sample_rate, 48_000);
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(reader.spec().bits_per_sample, 16);
    assert_eq!(reader.len(), 9600);
}

#[test]
fn absurd_parameters_are_invalid() {
    let lead = || vec![Instrument::BuiltIn(BuiltIn::Lead)];
    for sample_rate in [0, 1, 7_999, 384_001, u32::MAX] {
        let settings = EngineSettings {
            sample_rate,
            ..EngineSettings::default()
        };
        let error = Engine::new(settings, lead()).unwrap_err();
        assert!(
            matches!(
                error,
                SynthError::Invalid {
                    what: "sample rate",
                    ..
                }
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains(&sample_rate.to_string()),
            "{error}"
        );
        let options = RenderOptions {
            sample_rate,
            ..RenderOptions::default()
        };
        let score = leitmotif_score::Score::default();
        assert!(matches!(
            render_score(&score, &options),
            Err(SynthError::Invalid { .. })
        ));
    }
    assert!(matches!(
        Engine::new(EngineSettings::default(), Vec::new()),
        Err(SynthError::Invalid { what: "buses", .. })
    ));
    let zero_voices = EngineSettings {
        max_voices: 0,
        ..EngineSettings::default()
    };
    assert!(Engine::new(zero_voices, lead()).is_err());
    let tail = RenderOptions {
        tail_seconds: f64::NAN,
        ..RenderOptions::default()
    };
    assert!(matches!(
        render_score(&leitmotif_score::Score::default(), &tail),
        Err(SynthError::Invalid {
            what: "tail_seconds",
            ..
        })
    ));
    let silent = Audio {
        sample_rate: 0,
        frames: vec![[0.0; 2]; 10],
    };
    assert!(matches!(
        leitmotif_synth::encode_wav(&silent),
        Err(SynthError::Invalid { .. })
    ));
}

#[test]
fn a_soundfont_bus_needs_a_rate_rustysynth_supports() {
    let Some(font) = common::gm_bank("a_soundfont_bus_needs_a_rate_rustysynth_supports") else {
        return;
    };
    let settings = EngineSettings {
        sample_rate: 8_000,
        ..EngineSettings::default()
    };
    let instrument = Instrument::SoundFont {
        font,
        bank: 0,
        program: 0,
        drums: false,
    };
    let error = Engine::new(settings, vec![instrument]).unwrap_err();
    assert!(
        matches!(
            error,
            SynthError::Invalid {
                what: "sample rate",
                ..
            }
        ),
        "{error}"
    );
}
