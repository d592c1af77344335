//! Real-time factor of the engine: render time over audio time for a dense four-layer
//! phrase on one thread, with the built-in instruments and with a SoundFont.
//!
//! Run with `cargo bench -p leitmotif_synth --bench realtime`. The SoundFont case needs
//! Debian's `csound-soundfont` (`/usr/share/sounds/sf2/sf_GMbank.sf2`).

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::path::Path;
use std::time::Instant;

use leitmotif_score::Score;
use leitmotif_synth::{
    Engine, EngineSettings, Instrument, RenderOptions, ScoreEvents, SoundFont, score_events,
};

const SR: u32 = 48_000;
/// Frames per render call, as a typical audio callback asks for.
const BLOCK: usize = 512;

fn phrase(name: &str) -> Score {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let path = Path::new(&dir)
        .join("../../assets/examples/listening")
        .join(name);
    let bytes = std::fs::read(&path).expect("the listening samples are in the repository");
    leitmotif_score::midi::read_midi(&bytes).expect("a valid MIDI file")
}

/// Seconds spent rendering `score` once, and the audio's length in seconds.
fn measure(score: &Score, font: Option<&SoundFont>) -> (f64, f64, usize) {
    let instruments: Vec<Instrument> = score
        .tracks
        .iter()
        .map(|t| Instrument::for_track(t, font))
        .collect();
    let mut engine = Engine::new(EngineSettings::default(), instruments).expect("an engine");
    // The score's own end and a second of tail.
    let options = RenderOptions {
        sample_rate: SR,
        tail_seconds: 1.0,
        ..RenderOptions::default()
    };
    let ScoreEvents {
        events,
        frames: total,
    } = score_events(score, &options).expect("a score that renders");
    let mut out = vec![[0.0f32; 2]; BLOCK];
    let mut next = 0;
    let mut voices = 0;
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        // Feed events a block ahead, as a live player would.
        while next < events.len() && events[next].frame < (done + 2 * BLOCK) as u64 {
            let _ = engine.schedule(events[next]);
            next += 1;
        }
        let n = BLOCK.min(total - done);
        engine.render(&mut out[..n]);
        std::hint::black_box(&out);
        voices = voices.max(engine.active_voices());
        done += n;
    }
    (
        started.elapsed().as_secs_f64(),
        total as f64 / f64::from(SR),
        voices,
    )
}

fn report(label: &str, score: &Score, font: Option<&SoundFont>) {
    // One warm-up pass, then the best of five (the least disturbed by other work).
    let _ = measure(score, font);
    let mut best = f64::MAX;
    let mut audio = 0.0;
    let mut voices = 0;
    for _ in 0..5 {
        let (spent, length, v) = measure(score, font);
        best = best.min(spent);
        audio = length;
        voices = v;
    }
    let factor = best / audio * 100.0;
    let verdict = if factor <= 5.0 { "within" } else { "OVER" };
    println!(
        "{label:<34} {audio:>6.1} s of audio in {:>7.1} ms: {factor:>5.2} % of real time \
         ({verdict} the 5 % target; up to {voices} voices)",
        best * 1e3
    );
}

fn main() {
    let dense = [
        ("dungeon_chase.mid", "dungeon chase (16 bars, 150 bpm)"),
        ("boss_ramp.mid", "boss ramp (16 bars, 160 bpm)"),
    ];
    let font_path = Path::new("/usr/share/sounds/sf2/sf_GMbank.sf2");
    let font = SoundFont::load(font_path).ok();
    for (file, label) in dense {
        let score = phrase(file);
        report(&format!("built-in: {label}"), &score, None);
        match &font {
            Some(font) => report(&format!("SoundFont: {label}"), &score, Some(font)),
            None => println!("SoundFont: skipped, {} is absent", font_path.display()),
        }
    }
}
