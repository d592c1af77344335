//! Proof that the render path never allocates: a counting global allocator watches every
//! `Engine::schedule` and `Engine::render` call over a dense four-layer phrase.
#![expect(
    unsafe_code,
    reason = "a counting global allocator must implement the unsafe GlobalAlloc trait"
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use leitmotif_score::Score;
use leitmotif_synth::{
    Engine, EngineSettings, Event, Instrument, RenderOptions, Scheduled, ScoreEvents, SoundFont,
    score_events,
};

/// Forwards to the system allocator, counting calls made while this thread is watched.
struct Counting;

thread_local! {
    // Const-initialised and without destructors, so using them never allocates. Per
    // thread, so tests running in parallel do not count each other's allocations.
    static WATCHED: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn note_call() {
    if WATCHED.try_with(Cell::get).unwrap_or(false) {
        let _ = CALLS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocator calls made by this thread while running `f`.
fn count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = CALLS.with(Cell::get);
    WATCHED.with(|w| w.set(true));
    let value = f();
    WATCHED.with(|w| w.set(false));
    (value, CALLS.with(Cell::get) - before)
}

/// The dense four-layer phrase: melody, bass, chords and drums from the listening
/// samples (16 bars at 150 bpm).
fn phrase() -> Score {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../assets/examples/listening/dungeon_chase.mid");
    let score = leitmotif_score::midi::read_midi(&std::fs::read(path).unwrap()).unwrap();
    let roles: Vec<_> = score.tracks.iter().map(|t| t.role).collect();
    for role in [
        leitmotif_score::Role::Melody,
        leitmotif_score::Role::Bass,
        leitmotif_score::Role::Chords,
        leitmotif_score::Role::Drums,
    ] {
        assert!(roles.contains(&role), "the phrase has {role}: {roles:?}");
    }
    score
}

/// Schedules the whole phrase and renders it in 256-frame and odd-sized blocks, counting
/// allocator calls in `schedule` and `render` only.
fn allocations(score: &Score, font: Option<&SoundFont>) -> (usize, usize, usize) {
    let instruments: Vec<Instrument> = score
        .tracks
        .iter()
        .map(|t| Instrument::for_track(t, font))
        .collect();
    let mut engine = Engine::new(EngineSettings::default(), instruments).unwrap();
    // The score's own end and two seconds of tail.
    let ScoreEvents {
        mut events,
        frames: total,
    } = score_events(score, &RenderOptions::default()).unwrap();
    let gain = Scheduled {
        frame: 48_000,
        event: Event::Gain {
            bus: 1,
            gain: 0.5,
            ramp_frames: 24_000,
        },
    };
    events.push(gain);
    let mut out = vec![[0.0f32; 2]; 1024];
    let (_, scheduling) = count(|| {
        for event in &events {
            engine.schedule(*event).unwrap();
        }
    });
    let mut voices = 0;
    let (_, rendering) = count(|| {
        let mut done = 0;
        let sizes = [256, 256, 128, 1024, 1, 333];
        let mut i = 0;
        while done < total {
            let n = sizes[i % sizes.len()].min(total - done);
            engine.render(&mut out[..n]);
            voices = voices.max(engine.active_voices());
            done += n;
            i += 1;
        }
    });
    (scheduling, rendering, voices)
}

#[test]
fn built_in_rendering_never_allocates() {
    let score = phrase();
    let (scheduling, rendering, voices) = allocations(&score, None);
    assert!(voices >= 8, "the phrase is dense: {voices} voices at once");
    assert_eq!(scheduling, 0, "allocator calls while scheduling");
    assert_eq!(rendering, 0, "allocator calls while rendering");
}

#[test]
fn soundfont_rendering_never_allocates() {
    let Some(font) = common::gm_bank("soundfont_rendering_never_allocates") else {
        return;
    };
    let score = phrase();
    let (scheduling, rendering, voices) = allocations(&score, Some(&font));
    assert!(
        voices >= 4,
        "the phrase is dense: {voices} keys held at once"
    );
    assert_eq!(scheduling, 0, "allocator calls while scheduling");
    assert_eq!(rendering, 0, "allocator calls while rendering");
}

#[test]
fn the_counter_sees_allocations() {
    // The test above could not fail if the counter were blind.
    let (_, calls) = count(|| std::hint::black_box(vec![1u8; 100]));
    assert!(calls >= 1);
}
