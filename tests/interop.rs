//! Files Leitmotif writes, read by software nobody here wrote: @tonejs/midi (node) must
//! report exactly our `.tone.json`, and mido (Python) must read exactly our notes.
//!
//! `scripts/setup-interop.sh` installs both into `.interop/` (the README's test command
//! runs it first).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use leitmotif::score::melody::MelodyDocument;
use leitmotif::score::{
    KeySignatureChange, Marker, Note, Role, Score, TempoChange, TimeSignatureChange, Track, files,
    midi,
};

fn repo() -> PathBuf {
    // At run time: a test binary built in another checkout sharing the target folder
    // must still read this checkout's files.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn interop_dir() -> PathBuf {
    let dir = std::env::var_os("LEITMOTIF_INTEROP_DIR")
        .map_or_else(|| repo().join(".interop"), PathBuf::from);
    assert!(
        dir.join("node/node_modules/@tonejs/midi").is_dir() && dir.join("venv").is_dir(),
        "the outside MIDI readers are not installed in {}: run scripts/setup-interop.sh",
        dir.display()
    );
    dir
}

fn note(start: u64, duration: u64, pitch: u8, velocity: u8) -> Note {
    Note {
        start,
        duration,
        pitch,
        velocity,
    }
}

/// Scores that exercise every part of the writer the outside readers look at.
fn synthetic_scores() -> Vec<(&'static str, Score)> {
    let mut full = Score::new(480);
    full.name = "Dungeon Chase".to_owned();
    full.tempos = vec![
        TempoChange {
            tick: 0,
            micros_per_quarter: 400_000,
        },
        TempoChange {
            tick: 3840,
            micros_per_quarter: 352_941,
        },
        TempoChange {
            tick: 6720,
            micros_per_quarter: 600_000,
        },
    ];
    full.time_signatures = vec![
        TimeSignatureChange {
            tick: 0,
            numerator: 4,
            denominator: 4,
        },
        TimeSignatureChange {
            tick: 3840,
            numerator: 6,
            denominator: 8,
        },
        TimeSignatureChange {
            tick: 6720,
            numerator: 3,
            denominator: 4,
        },
    ];
    full.key_signatures = vec![
        KeySignatureChange {
            tick: 0,
            sharps: -1,
            minor: true,
        },
        KeySignatureChange {
            tick: 6720,
            sharps: 3,
            minor: false,
        },
    ];
    full.markers = vec![
        Marker {
            tick: 0,
            text: "explore".to_owned(),
        },
        Marker {
            tick: 3840,
            text: "combat".to_owned(),
        },
        Marker {
            tick: 6720,
            text: "victory — fanfare".to_owned(),
        },
    ];
    let mut melody = Track::new("Melody", Role::Melody, 73, 0);
    melody.notes = (0..40u64)
        .map(|i| {
            note(
                i * 240,
                240,
                62 + u8::try_from(i % 8).unwrap_or(0),
                40 + u8::try_from(i * 2).unwrap_or(0),
            )
        })
        .collect();
    melody.notes.push(note(9600, 0, 74, 100)); // a zero-length note
    let mut bass = Track::new("Bass", Role::Bass, 33, 1);
    // Overlapping notes of the same pitch, and notes ending where another starts.
    bass.notes = vec![
        note(0, 960, 38, 90),
        note(480, 960, 38, 70),
        note(1440, 480, 38, 80),
        note(1920, 1920, 41, 127),
    ];
    let mut chords = Track::new("Chords", Role::Chords, 48, 2);
    for (bar, root) in [50u8, 46, 48, 45].into_iter().enumerate() {
        let start = bar as u64 * 1920;
        for pitch in [root, root + 3, root + 7] {
            chords.notes.push(note(start, 1920, pitch, 64));
        }
    }
    let mut drums = Track::new("Drums", Role::Drums, 0, 9);
    drums.notes = (0..32u64)
        .map(|i| {
            note(
                i * 240,
                60,
                if i % 4 == 0 { 36 } else { 42 },
                1 + u8::try_from(i * 3).unwrap_or(0),
            )
        })
        .collect();
    let empty = Track::new("Silent pad (no notes yet)", Role::Chords, 89, 3);
    let mut kit = Track::new("Brush kit", Role::Drums, 40, 9);
    kit.notes = vec![note(100, 10, 38, 50)];
    full.tracks = vec![melody, bass, chords, drums, empty, kit];
    full.end_tick = 11_520;
    full.normalize();

    let mut bare = Score::new(480);
    let mut t = Track::new("", Role::Other, 0, 0);
    t.notes = vec![
        note(0, 480, 60, 100),
        note(480, 480, 127, 1),
        note(960, 240, 0, 64),
    ];
    bare.tracks.push(t);
    bare.normalize();

    let mut late_tempo = Score::new(480);
    late_tempo.tempos = vec![TempoChange {
        tick: 960,
        micros_per_quarter: 300_000,
    }];
    let mut t = Track::new("Lead", Role::Melody, 80, 4);
    t.notes = vec![note(0, 480, 72, 90), note(1200, 480, 74, 90)];
    late_tempo.tracks.push(t);
    late_tempo.normalize();

    let mut coarse = full.rescaled(96);
    coarse.name = "coarse source".to_owned();

    vec![
        ("full", full),
        ("bare", bare),
        ("late_tempo", late_tempo),
        ("coarse", coarse),
    ]
}

fn write_corpus(dir: &Path) -> usize {
    let mut docs: Vec<(String, Score)> = synthetic_scores()
        .into_iter()
        .map(|(name, score)| (name.to_owned(), score))
        .collect();
    let data = common::data_dir();
    for (i, path) in common::sample(&common::midi_files(&data), 60)
        .iter()
        .enumerate()
    {
        let score = files::read_score(path).unwrap_or_else(|e| panic!("{e}"));
        docs.push((format!("real_{i:03}"), score));
    }
    for (name, score) in &docs {
        let doc = MelodyDocument::new(score.clone());
        for ext in [".mid", ".tone.json", ".melody.json"] {
            let path = dir.join(format!("{name}{ext}"));
            // The melody JSON describes what was written: the score at 480 ppq.
            let doc = if ext == ".melody.json" {
                MelodyDocument::new(
                    midi::read_midi(&midi::write_midi(score).unwrap_or_default())
                        .unwrap_or_else(|e| panic!("{name}: {e}")),
                )
            } else {
                doc.clone()
            };
            files::write_document(&path, &doc).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    docs.len()
}

fn run_checker(program: &str, script: &str, dir: &Path, interop: &Path) -> String {
    let output = Command::new(program)
        .arg(repo().join("tests/interop").join(script))
        .arg(dir)
        .env("LEITMOTIF_INTEROP_DIR", interop)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{script} found differences:\n{text}"
    );
    text
}

#[test]
fn tonejs_and_mido_read_what_we_write() {
    let interop = interop_dir();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let count = write_corpus(dir.path());

    let tone = run_checker("node", "tone_check.mjs", dir.path(), &interop);
    assert!(
        tone.contains(&format!("tonejs: {count} files checked, 0 mismatches")),
        "{tone}"
    );

    let python = interop.join("venv/bin/python");
    let mido = run_checker(
        &python.to_string_lossy(),
        "mido_check.py",
        dir.path(),
        &interop,
    );
    assert!(
        mido.contains(&format!("mido: {count} files checked, 0 mismatches")),
        "{mido}"
    );
}

#[test]
fn the_checkers_catch_a_changed_note() {
    // A checker that passes everything would prove nothing: change one note and expect both
    // to fail.
    let interop = interop_dir();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_, mut score) = synthetic_scores().remove(0);
    let doc = MelodyDocument::new(score.clone());
    files::write_document(&dir.path().join("x.tone.json"), &doc).unwrap_or_else(|e| panic!("{e}"));
    files::write_document(&dir.path().join("x.melody.json"), &doc)
        .unwrap_or_else(|e| panic!("{e}"));
    score.tracks[0].notes[3].pitch += 1;
    files::write_score(&dir.path().join("x.mid"), &score).unwrap_or_else(|e| panic!("{e}"));
    for (program, script) in [
        ("node".to_owned(), "tone_check.mjs"),
        (
            interop
                .join("venv/bin/python")
                .to_string_lossy()
                .into_owned(),
            "mido_check.py",
        ),
    ] {
        let status = Command::new(&program)
            .arg(repo().join("tests/interop").join(script))
            .arg(dir.path())
            .env("LEITMOTIF_INTEROP_DIR", &interop)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert_eq!(
            status.status.code(),
            Some(1),
            "{script} missed a changed note"
        );
    }
}
