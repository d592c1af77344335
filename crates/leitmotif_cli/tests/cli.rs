//! The `leitmotif` binary: conversions between every format, the inspect report, and
//! exit code 2 with a one-line message on bad input, leaving no file behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The package's folder, read at run time (cargo sets it for tests): a test binary built in
/// another checkout sharing the target folder must still read this checkout's files.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn leitmotif(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leitmotif"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run leitmotif: {e}"))
}

fn example() -> PathBuf {
    manifest_dir().join("../../assets/examples/chorale_bwv_101_7.mid")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn converts_through_every_format_and_back() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let original = leitmotif_score::read_score(&example()).unwrap_or_else(|e| panic!("{e}"));
    let mut previous = example();
    for name in [
        "a.melody.json",
        "b.melody.ron",
        "c.tone.json",
        "d.MID",
        "e.midi",
    ] {
        let next = dir.path().join(name);
        let out = leitmotif(&[Path::new("convert"), &previous, &next]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let score = leitmotif_score::read_score(&next).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(score, original, "converting to {name} changed the score");
        previous = next;
    }
}

#[test]
fn inspect_reports_text_and_json() {
    let out = leitmotif(&[Path::new("inspect"), &example()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "tracks:   4",
        "Soprano",
        "melody",
        "D minor",
        "4/4",
        "bar  meter",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let out = leitmotif(&[Path::new("inspect"), &example(), Path::new("--json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(json["tracks"].as_array().map(Vec::len), Some(4));
    assert_eq!(json["estimated_key"], "D minor");
    let bars = json["bars"].as_u64().unwrap_or(0);
    assert_eq!(
        json["per_bar"].as_array().map(Vec::len),
        Some(usize::try_from(bars).unwrap_or(0))
    );
    assert!(json["per_bar"][0]["notes_per_quarter"].as_f64().is_some());
}

#[test]
fn bad_input_exits_2_with_one_line_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let broken = dir.path().join("broken.mid");
    let mut bytes = std::fs::read(example()).unwrap_or_default();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&broken, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let not_json = dir.path().join("x.melody.json");
    std::fs::write(&not_json, "{\"format\": \"leitmotif/1\", \"scor\": {}}")
        .unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("out.tone.json");
    let cases: [(&[&Path], &str); 5] = [
        (&[Path::new("convert"), &broken, &target], "truncated"),
        (
            &[Path::new("convert"), &not_json, &target],
            "unknown field `scor`",
        ),
        (
            &[
                Path::new("convert"),
                &example(),
                &dir.path().join("out.wav"),
            ],
            "unknown file type",
        ),
        (
            &[Path::new("inspect"), &dir.path().join("missing.mid")],
            "missing.mid",
        ),
        (
            &[Path::new("inspect"), &dir.path().join("notes.txt")],
            "unknown file type",
        ),
    ];
    for (args, expected) in cases {
        let out = leitmotif(args);
        let message = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        if !expected.ends_with(".mid") {
            assert_eq!(out.status.code(), Some(2), "{args:?}: {message}");
        }
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(
            message.starts_with("error: ") && message.contains(expected),
            "{args:?}: {message}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left.len(),
        2,
        "a failed conversion left files behind: {left:?}"
    );
    let out = leitmotif(&[Path::new("convert")]);
    assert_eq!(out.status.code(), Some(2), "a usage error exits 2");
}

/// Copies the first `n` Bach chorales of the training data into `dir`.
fn copy_chorales(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    let chorales = manifest_dir().join("../../../shared/data/parts/bach_chorales");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&chorales)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files.iter().take(n) {
        std::fs::copy(path, dir.join(path.file_name().unwrap_or_default()))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn train_resume_and_eval_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    copy_chorales(&data, 40);
    let out = dir.path().join("out");
    let train = |extra: &[&str]| {
        let mut args: Vec<&Path> = [
            "train",
            "--model",
            "transformer",
            "--preset",
            "tiny",
            "--batch",
            "4",
            "--seq-len",
            "64",
            "--data",
        ]
        .iter()
        .map(Path::new)
        .collect();
        args.push(&data);
        args.push(Path::new("--out"));
        args.push(&out);
        args.extend(extra.iter().map(Path::new));
        leitmotif(&args)
    };
    let first = train(&["--epochs", "0.5"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let resumed = train(&["--epochs", "1", "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("motif_transformer.summary.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("summary: {e}"));
    assert_eq!(
        summary["validation_history"].as_array().map(Vec::len),
        Some(2),
        "one validation per epoch"
    );
    let history: Vec<f64> = summary["validation_history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    assert!(
        history[1] < history[0],
        "validation loss should fall: {history:?}"
    );

    let weights = out.join("motif_transformer.bpk");
    // A warm start continues from the trained weights, not from a fresh initialisation.
    let warm_out = dir.path().join("warm");
    let warm = |extra: &[&str]| {
        let mut args: Vec<&Path> = ["train", "--model", "transformer", "--batch", "4"]
            .iter()
            .map(Path::new)
            .collect();
        args.extend([Path::new("--seq-len"), Path::new("64"), Path::new("--data")]);
        args.push(&data);
        args.push(Path::new("--out"));
        args.push(&warm_out);
        args.extend(extra.iter().map(Path::new));
        leitmotif(&args)
    };
    let init = format!("--init={}", weights.display());
    let warmed = warm(&[&init, "--epochs", "0.25", "--lr", "1e-4"]);
    assert!(warmed.status.success(), "{}", stderr(&warmed));
    let warm_summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(warm_out.join("motif_transformer.summary.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("warm summary: {e}"));
    let warm_loss = warm_summary["final_validation_loss"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(
        warm_loss < history[0],
        "a warm start should begin where the weights left off: {warm_loss} vs {history:?}"
    );
    assert_eq!(
        warm_summary["config"]["d_model"], summary["config"]["d_model"],
        "the weights' config replaces the preset's"
    );
    let wrong = warm(&["--init=missing.bpk"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("missing"), "{}", stderr(&wrong));

    let eval = leitmotif(&[
        Path::new("eval"),
        Path::new("--data"),
        &data,
        Path::new("--model"),
        &weights,
        Path::new("--json"),
        Path::new("--samples"),
        Path::new("1"),
    ]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let report: serde_json::Value =
        serde_json::from_slice(&eval.stdout).unwrap_or_else(|e| panic!("eval --json: {e}"));
    assert!(report["tokens"].as_u64().is_some_and(|n| n > 100));
    for key in ["model_bits_per_token", "ngram_bits_per_token"] {
        assert!(
            report[key].as_f64().is_some_and(|b| b > 0.0 && b < 20.0),
            "{key}: {report}"
        );
    }
    for control in ["density", "register", "intensity", "key"] {
        assert!(
            report["control_accuracy"][control]
                .as_f64()
                .is_some_and(|a| (0.0..=1.0).contains(&a)),
            "{control}"
        );
    }

    let bad = train(&["--epochs=0"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--epochs"), "{}", stderr(&bad));
}

fn run_str(args: &[&str]) -> Output {
    let args: Vec<&Path> = args.iter().map(Path::new).collect();
    leitmotif(&args)
}

#[test]
fn generate_continue_and_infill_write_three_agreeing_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("chase");
    let stem = out.to_string_lossy().into_owned();
    let o = run_str(&[
        "generate",
        "tense dungeon chase in D minor, 150 bpm, sparkly",
        "--bars",
        "4",
        "--intensity",
        "0.3..0.9",
        "--seed",
        "7",
        "--backend",
        "cpu",
        "--wav",
        "-o",
        &stem,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "chase.wav",
        "audio 0:",
        "at 48000 Hz",
        "melody built-in",
        "key D minor, 150 bpm, 4/4, bars 1-4 of 4",
        "melody (model",
        "drums (arranger",
        "seed 7",
        "words not used: sparkly",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let mid = leitmotif_score::read_score(&dir.path().join("chase.mid"))
        .unwrap_or_else(|e| panic!("{e}"));
    let json = leitmotif_score::read_document(&dir.path().join("chase.melody.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mid, json.score, "the MIDI and the JSON hold the same music");
    let generation = json
        .generation
        .unwrap_or_else(|| panic!("no generation record"));
    assert_eq!(generation.seed, 7);
    let tone = leitmotif_score::read_score(&dir.path().join("chase.tone.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tone.note_count(), mid.note_count());
    // The WAV holds the four bars (6.4 s at 150 bpm) and the release tail.
    let seconds = leitmotif_score::time::TempoMap::new(&mid).seconds(mid.end_tick);
    assert_wav(&dir.path().join("chase.wav"), 48_000, seconds);

    let primer = dir.path().join("chase.mid");
    let longer = dir.path().join("longer");
    let o = leitmotif(&[
        Path::new("continue"),
        &primer,
        Path::new("--bars"),
        Path::new("2"),
        Path::new("--backend"),
        Path::new("cpu"),
        Path::new("--wav"),
        Path::new("--sample-rate"),
        Path::new("22050"),
        Path::new("-o"),
        &longer,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("bars 5-6 of 6"));
    let longer_score = leitmotif_score::read_score(&dir.path().join("longer.mid"))
        .unwrap_or_else(|e| panic!("{e}"));
    let seconds =
        leitmotif_score::time::TempoMap::new(&longer_score).seconds(longer_score.end_tick);
    assert_wav(&dir.path().join("longer.wav"), 22_050, seconds);
    let changed = dir.path().join("changed.mid");
    let o = leitmotif(&[
        Path::new("infill"),
        &primer,
        Path::new("--bars"),
        Path::new("2..3"),
        Path::new("--layer"),
        Path::new("melody"),
        Path::new("--backend"),
        Path::new("cpu"),
        Path::new("-o"),
        &changed,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("changed.tone.json").exists());
    assert!(
        !dir.path().join("changed.wav").exists(),
        "a WAV was written without --wav"
    );
}

/// Checks a WAV the composing commands wrote: 16-bit stereo at `rate`, holding `seconds` of
/// music and at most the two-second release tail after it, and not silent.
fn assert_wav(path: &Path, rate: u32, seconds: f64) {
    let reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{}: not a WAV: {e}", path.display()));
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (rate, 2, 16),
        "{}",
        path.display()
    );
    let length = f64::from(reader.duration()) / f64::from(rate);
    assert!(
        length >= seconds - 0.01 && length <= seconds + 2.05,
        "{}: {length} s for {seconds} s of music",
        path.display()
    );
    let peak = reader
        .into_samples::<i16>()
        .map(|s| s.map_or(0, |s| s.unsigned_abs()))
        .max()
        .unwrap_or(0);
    assert!(peak > 100, "{} is silent", path.display());
}

#[test]
fn bad_composing_options_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stem = dir.path().join("x").to_string_lossy().into_owned();
    for (args, needle) in [
        (vec!["generate", "--meter", "11/8"], "meter 11/8"),
        (vec!["generate", "--intensity", "0.2..7"], "--intensity"),
        (vec!["generate", "--layers", "melody,kazoo"], "kazoo"),
        (vec!["generate", "--key", "H minor"], "--key"),
        (vec!["generate", "--bars", "0"], "bars"),
        (vec!["generate", "--tempo", "9000"], "tempo"),
        (
            vec!["generate", "--model", "/nonexistent/model.bpk"],
            "model",
        ),
        (
            vec!["infill", "/nonexistent.mid", "--bars", "1..2"],
            "nonexistent",
        ),
        (
            vec!["generate", "--wav", "--sample-rate", "5"],
            "--sample-rate",
        ),
        (
            vec!["generate", "--wav", "--soundfont", "/nonexistent/font.sf2"],
            "font.sf2",
        ),
        (
            vec!["generate", "--soundfont", "/nonexistent/font.sf2"],
            "required",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--backend", "cpu", "-o", &stem]);
        let o = run_str(&all);
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = stderr(&o);
        let line = e
            .lines()
            .rfind(|l| l.starts_with("error:"))
            .unwrap_or_default();
        assert!(line.contains(needle), "{args:?}: {e}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}

/// `bench --json` prints one object per backend with every field the runtime issue names,
/// each a measured, positive number; the PyTorch fields are `null` when the reference is
/// skipped.
#[test]
fn bench_prints_one_json_object_per_backend() {
    let out = run_str(&[
        "bench",
        "--backends",
        "cpu",
        "--python",
        "none",
        "--runs",
        "1",
        "--prompt",
        "16",
        "--decode",
        "8",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let report: serde_json::Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(
        report["backend"]
            .as_str()
            .is_some_and(|b| b.starts_with("cpu")),
        "{report}"
    );
    for key in [
        "prefill_tokens_per_s",
        "decode_tokens_per_s",
        "decode_batch4_tokens_per_s",
        "phrase_8bar_4layer_ms",
        "peak_rss_mb",
    ] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {report}"
        );
    }
    for key in [
        "torch_decode_tokens_per_s",
        "torch_decode_batch4_tokens_per_s",
    ] {
        assert!(report[key].is_null(), "{key}: {report}");
    }
}

#[test]
fn bench_refuses_absurd_sizes_and_unknown_backends() {
    for args in [
        &["bench", "--prompt", "0", "--python", "none"][..],
        &["bench", "--decode", "100000", "--python", "none"][..],
        &["bench", "--runs", "0", "--python", "none"][..],
        &["bench", "--backends", "tpu", "--python", "none"][..],
    ] {
        let out = run_str(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    }
}

#[test]
fn adherence_and_realism_report_as_json_and_refuse_bad_options() {
    let out = run_str(&[
        "adherence",
        "--models",
        "transformer",
        "--meters",
        "4/4",
        "--bars",
        "2",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("adherence --json: {e}"));
    assert_eq!(report["model"], "transformer");
    for control in ["density", "register", "intensity"] {
        let hits = &report["all"][control];
        assert_eq!(hits["bars"].as_u64(), Some(2 * 21), "{control}: {report}");
        assert_eq!(hits["within_one"], hits["bars"], "{control}: {report}");
    }
    for bad in [
        &["adherence", "--bars", "0"][..],
        &["adherence", "--meters", "four"][..],
        &["adherence", "--seeds", "0"][..],
        &["realism", "--data", "no-such-folder", "--melodies", "2"][..],
        &["realism", "--data", ".", "--melodies", "1"][..],
    ] {
        let out = run_str(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{bad:?}: {}", stderr(&out));
    }

    // The held-out side: a folder of chorales, some of which fall in the validation split.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_chorales(dir.path(), 80);
    let data = dir.path().display().to_string();
    let out = run_str(&[
        "realism",
        "--data",
        &data,
        "--models",
        "rnn,5-gram",
        "--melodies",
        "3",
        "--bars",
        "4",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("realism --json: {e}")))
        .collect();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1]["model"], "5-gram");
    for report in &reports {
        // Sampled tokens, judged by the data's own 5-gram, beside held-out human melodies.
        let bits = &report["judged_bits_per_token"];
        for side in ["generated", "human"] {
            assert!(
                bits[side].as_f64().is_some_and(|b| b > 0.1 && b < 9.0),
                "{side}: {report}"
            );
        }
    }
    let report = &reports[0];
    let features = report["realism"]["features"]
        .as_object()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(features.len(), 8, "{report}");
    for (name, f) in features {
        assert!(
            f["overlap"]
                .as_f64()
                .is_some_and(|o| (0.0..=1.0).contains(&o)),
            "{name}: {f}"
        );
    }
    assert_eq!(report["realism"]["generated"].as_u64(), Some(3));
}

#[test]
fn listening_set_writes_shuffled_clips_and_keeps_the_answers_apart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    copy_chorales(&data, 80);
    let out = dir.path().join("set");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "listening-set",
            "--data",
            data.to_str().unwrap_or_default(),
            "--out",
            out.to_str().unwrap_or_default(),
        ];
        args.extend_from_slice(extra);
        run_str(&args)
    };
    for bad in [
        &["--prompts", "0"][..],
        &["--bars", "0"][..],
        &["--model", "5-gram"][..],
        &["--sample-rate", "10"][..],
        &["--prompts", "50"][..],
    ] {
        let result = run(bad);
        assert_eq!(
            result.status.code(),
            Some(2),
            "{bad:?}: {}",
            stderr(&result)
        );
        assert_eq!(
            stderr(&result).lines().count(),
            1,
            "{bad:?}: {}",
            stderr(&result)
        );
        assert!(!out.exists(), "{bad:?} left files behind");
    }

    let result = run(&["--prompts", "3", "--model", "rnn", "--bars", "2"]);
    assert!(result.status.success(), "{}", stderr(&result));
    let answers: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("answers.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    let prompts = answers["prompts"]
        .as_array()
        .unwrap_or_else(|| panic!("{answers}"));
    assert_eq!(prompts.len(), 3);
    let mut orders = Vec::new();
    let mut loudest = 0u16;
    for (i, prompt) in prompts.iter().enumerate() {
        let clips = &prompt["clips"];
        let mut origins: Vec<&str> = ["a", "b", "c"]
            .iter()
            .map(|l| clips[*l].as_str().unwrap_or_default())
            .collect();
        orders.push(origins.join(","));
        origins.sort_unstable();
        assert_eq!(origins, ["human", "model", "ngram"], "{prompt}");
        // The sheet names the prompt but never the answer.
        let describe = prompt["describe"].as_str().unwrap_or_default();
        assert!(readme.contains(describe), "{readme}");
        let mut lengths = Vec::new();
        let mut human = None;
        for letter in ["a", "b", "c"] {
            let stem = out.join(format!("{:02}-{letter}", i + 1));
            let wav = hound::WavReader::open(stem.with_extension("wav"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(wav.spec().channels, 1);
            assert_eq!(wav.spec().sample_rate, 16_000);
            assert!(wav.duration() > 16_000, "{}", wav.duration());
            let samples: Vec<i16> = wav.into_samples().map(|s| s.unwrap_or(0)).collect();
            loudest = samples
                .iter()
                .map(|s| s.unsigned_abs())
                .fold(loudest, u16::max);
            let clip = leitmotif_score::read_score(&stem.with_extension("mid"))
                .unwrap_or_else(|e| panic!("{e}"));
            // Played alike: one track, one instrument, one loudness, one length.
            assert_eq!(clip.tracks.len(), 1);
            assert!(clip.tracks[0].notes.iter().all(|n| n.velocity == 90));
            assert!(clip.tracks[0].notes.len() >= 2, "{letter}: {clip:?}");
            lengths.push((
                clip.end_tick * 480 / u64::from(clip.ppq),
                clip.tempos.clone(),
            ));
            if clips[letter] == "human" {
                human = Some(clip);
            }
        }
        assert!(lengths.windows(2).all(|w| w[0] == w[1]), "{lengths:?}");
        // The human clip is the held-out tune's opening, note for note.
        let human = human.unwrap_or_else(|| panic!("{prompt}"));
        let source = data.join(prompt["human_source"].as_str().unwrap_or_default());
        let source = leitmotif_score::read_score(&source).unwrap_or_else(|e| panic!("{e}"));
        let soprano: Vec<(u64, u8)> = source.tracks[0]
            .notes
            .iter()
            .filter(|n| n.start * 480 / u64::from(source.ppq) < lengths[0].0)
            .map(|n| (n.start * 480 / u64::from(source.ppq), n.pitch))
            .collect();
        let heard: Vec<(u64, u8)> = human.tracks[0]
            .notes
            .iter()
            .map(|n| (n.start * 480 / u64::from(human.ppq), n.pitch))
            .collect();
        assert_eq!(heard, soprano);
    }
    // One gain for the whole set: the loudest clip peaks at -1 dBFS.
    assert!((28_500..=29_900).contains(&loudest), "{loudest}");
    // Shuffled: not every prompt puts the clips in one order.
    assert!(orders.windows(2).any(|w| w[0] != w[1]), "{orders:?}");
}
