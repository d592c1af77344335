//! `leitmotif harmonize` and the harmony and feel options of `generate`, run as a user runs
//! them: the melody kept note for note, layers that fit its harmony, chords followed, drafts
//! reported, and bad chord symbols refused by name with nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use leitmotif_arrange::strong_beat;
use leitmotif_score::time::BarMap;
use leitmotif_score::{Note, Role, Score, read_score};

/// The package's folder, read at run time (cargo sets it for tests).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn folk_tune() -> PathBuf {
    manifest_dir().join("../../assets/examples/folk_the_enchanted_valley.mid")
}

fn leitmotif(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leitmotif"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run leitmotif: {e}"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(path: &Path) -> Score {
    read_score(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn notes(score: &Score, role: Role) -> Vec<Note> {
    score
        .tracks
        .iter()
        .find(|t| t.role == role)
        .map_or_else(Vec::new, |t| t.notes.clone())
}

/// The melody's strong-beat notes, and how many of them are among the pitch classes the
/// chords track sounds at their onset.
fn strong_beat_fit(score: &Score) -> (usize, usize) {
    let bars = BarMap::new(score);
    let chords = notes(score, Role::Chords);
    let (mut strong, mut fit) = (0, 0);
    for n in notes(score, Role::Melody) {
        let bar = bars.bar_at(n.start);
        if !strong_beat(bar.meter, score.ppq, n.start - bar.start) {
            continue;
        }
        strong += 1;
        let sounding = chords
            .iter()
            .any(|c| c.start <= n.start && n.start < c.end() && c.pitch % 12 == n.pitch % 12);
        fit += usize::from(sounding);
    }
    (strong, fit)
}

#[test]
fn harmonize_keeps_the_melody_and_fits_its_harmony() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_stem = dir.path().join("valley");
    let stem = out_stem.to_string_lossy().into_owned();
    let input = folk_tune();
    let out = leitmotif(&["harmonize", &input.to_string_lossy(), "-o", &stem]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("chord tones on strong beats"), "{stdout}");
    let original = read(&input);
    for ext in [".mid", ".melody.json", ".tone.json"] {
        let score = read(&dir.path().join(format!("valley{ext}")));
        // Every input track (here the melody alone) note for note, then the three layers.
        assert_eq!(
            score.tracks[..original.tracks.len()],
            original.tracks[..],
            "{ext}: the melody changed"
        );
        let roles: Vec<Role> = score.tracks.iter().map(|t| t.role).collect();
        assert_eq!(
            roles[original.tracks.len()..],
            [Role::Bass, Role::Chords, Role::Drums],
            "{ext}"
        );
        // In tonal music a melody's strong beats carry chord tones most of the time (the
        // rest are appoggiaturas and suspensions); an in-key pitch class picked at random
        // is a tone of a given triad 3 times in 7 (43 %). At least 75 % is clearly the
        // melody's own harmony, with room for its strong-beat dissonances.
        let (strong, fit) = strong_beat_fit(&score);
        assert!(strong >= 16, "{ext}: {strong} strong-beat notes");
        assert!(
            fit * 4 >= strong * 3,
            "{ext}: only {fit} of {strong} strong-beat melody notes are in the chord"
        );
        // The bass's downbeats sound with the chords: its pitch class is one of theirs.
        let chords = notes(&score, Role::Chords);
        let bars = BarMap::new(&score);
        for b in notes(&score, Role::Bass) {
            if b.start == bars.bar_at(b.start).start {
                assert!(
                    chords.iter().any(|c| c.start <= b.start
                        && b.start < c.end()
                        && c.pitch % 12 == b.pitch % 12),
                    "{ext}: bass {} at {} is not in the chord",
                    b.pitch,
                    b.start
                );
            }
        }
    }
}

#[test]
fn harmonize_plays_given_chords_and_refuses_bad_ones_by_name() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stem = dir.path().join("given").to_string_lossy().into_owned();
    let input = folk_tune().to_string_lossy().into_owned();
    let out = leitmotif(&[
        "harmonize",
        &input,
        "--chords",
        "Gm Cm D7 Gm",
        "--layers",
        "chords",
        "-o",
        &stem,
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    let score = read(&dir.path().join("given.melody.json"));
    let bars = BarMap::new(&score);
    let given: [&[u8]; 4] = [&[7, 10, 2], &[0, 3, 7], &[2, 6, 9, 0], &[7, 10, 2]];
    for n in notes(&score, Role::Chords) {
        let bar = bars.bar_at(n.start).index;
        assert!(
            given[bar % 4].contains(&(n.pitch % 12)),
            "bar {}: {} is not in the given chord",
            bar + 1,
            n.pitch
        );
    }
    assert!(
        notes(&score, Role::Bass).is_empty(),
        "only the chords were asked for"
    );
    let bad = dir.path().join("bad").to_string_lossy().into_owned();
    let out = leitmotif(&["harmonize", &input, "--chords", "Gm Qm", "-o", &bad]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"Qm\""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let left = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("bad"))
        .count();
    assert_eq!(left, 0, "a refused command wrote files");
}

#[test]
fn generate_follows_chords_feels_and_reports_drafts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stem = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let chorded = stem("chorded");
    let args = [
        "generate",
        "--bars",
        "4",
        "--seed",
        "5",
        "--chords",
        "Am F C G",
        "--layers",
        "melody,chords",
        "--backend",
        "cpu",
        "-o",
        &chorded,
    ];
    let out = leitmotif(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("key C major"), "{stdout}");
    assert!(stdout.contains("(100 %)"), "{stdout}");
    let score = read(&dir.path().join("chorded.mid"));
    let (strong, fit) = strong_beat_fit(&score);
    assert!(strong > 0 && fit == strong, "{fit} of {strong}");

    let drafts = stem("drafts");
    let args = [
        "generate",
        "--bars",
        "4",
        "--seed",
        "5",
        "--candidates",
        "4",
        "--backend",
        "cpu",
        "-o",
        &drafts,
    ];
    let first = leitmotif(&args);
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("drafts scored"))
        .unwrap_or_else(|| panic!("no drafts line: {stdout}"));
    let scores: Vec<f64> = line
        .split("drafts scored ")
        .nth(1)
        .and_then(|rest| rest.split(" bits").next())
        .map(|list| list.split(", ").filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_default();
    assert_eq!(scores.len(), 4, "{line}");
    let best = scores.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(line.contains(&format!("({best:.3})")), "{line}");
    let bytes = std::fs::read(dir.path().join("drafts.mid")).unwrap_or_default();
    let second = leitmotif(&args);
    assert!(second.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("drafts.mid")).unwrap_or_default(),
        bytes,
        "same seed, same drafts"
    );
    // The same report, but for the wall time.
    let timeless = |report: &str| -> Vec<String> {
        report
            .lines()
            .filter(|l| !l.contains(" tokens, "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(timeless(&text(&second).0), timeless(&stdout));

    let looped = stem("looped");
    let out = leitmotif(&[
        "generate",
        "--bars",
        "2",
        "--loop",
        "--candidates",
        "1",
        "--seed",
        "1",
        "--backend",
        "cpu",
        "-o",
        &looped,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("best of 1 candidate,"), "{stdout}");

    let felt = stem("felt");
    let out = leitmotif(&[
        "generate",
        "--bars",
        "2",
        "--seed",
        "1",
        "--humanize",
        "0.4",
        "--swing",
        "0.5",
        "--backend",
        "cpu",
        "-o",
        &felt,
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(text(&out).0.contains("feel humanize 0.4, swing 0.5"));
    let out = leitmotif(&["generate", "--humanize", "2", "-o", &stem("loose")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("humanize"), "{}", text(&out).1);
}
