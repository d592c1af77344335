//! The composer end to end on the shipped models: hard constraints on many seeds and
//! requests, continuation, infill, loops, determinism, prompts and bad requests.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use leitmotif_compose::{
    ComposeError, Composer, Composition, Curve, MoodTable, Request, SamplingSettings, Source, Task,
};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;
use leitmotif_score::midi::{read_midi, write_midi};
use leitmotif_score::theory::{Mode, PitchClass, Scale};
use leitmotif_score::time::BarMap;
use leitmotif_score::{Note, Role, Score, read_score};
use leitmotif_tokens::Layer;
use leitmotif_tokens::fnv::Fnv1a;
use proptest::prelude::*;

/// The package's folder, read at run time (cargo sets it for tests): a test binary built in
/// another checkout sharing the target folder must still read this checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    )
}

fn composer(rnn: bool) -> &'static Composer {
    static RNN: OnceLock<Composer> = OnceLock::new();
    static TRANSFORMER: OnceLock<Composer> = OnceLock::new();
    let (cell, source) = if rnn {
        (&RNN, ModelSource::DefaultRnn)
    } else {
        (&TRANSFORMER, ModelSource::DefaultTransformer)
    };
    cell.get_or_init(|| {
        Composer::load(&source, BackendChoice::Cpu).unwrap_or_else(|e| panic!("load: {e}"))
    })
}

fn compose(rnn: bool, request: &Request) -> Composition {
    composer(rnn)
        .compose(request)
        .unwrap_or_else(|e| panic!("{request:?}: {e}"))
}

fn example(name: &str) -> Score {
    let path = manifest_dir().join("../../assets/examples").join(name);
    read_score(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The pitch classes a key allows, written out independently of the crate.
fn allowed(scale: Scale) -> BTreeSet<u8> {
    let intervals: Vec<u8> = match scale.mode {
        Mode::NaturalMinor | Mode::HarmonicMinor | Mode::MelodicMinor => {
            vec![0, 2, 3, 5, 7, 8, 9, 10, 11]
        }
        Mode::Major => vec![0, 2, 4, 5, 7, 9, 11],
        Mode::Dorian => vec![0, 2, 3, 5, 7, 9, 10],
        Mode::MinorPentatonic => vec![0, 3, 5, 7, 10],
        other => other.intervals().to_vec(),
    };
    intervals
        .into_iter()
        .map(|i| (scale.tonic.index() + i) % 12)
        .collect()
}

fn overlaps(notes: &[Note]) -> Option<(u64, u64)> {
    let mut notes = notes.to_vec();
    notes.sort_by_key(|n| (n.start, n.end()));
    notes
        .windows(2)
        .find(|w| w[1].start < w[0].end())
        .map(|w| (w[0].start, w[1].start))
}

/// Every hard constraint of a new piece, checked from the request and the score alone (and
/// once more on the score read back from the MIDI file).
fn check_new_piece(request: &Request, c: &Composition) {
    let context = format!("seed {} {:?}", request.seed, request.layers);
    assert!(c.violations().is_empty(), "{context}: {:?}", c.violations());
    let back = read_midi(&write_midi(&c.score).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{context}: {e}"));
    for score in [&c.score, &back] {
        score
            .validate()
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        let bars = BarMap::new(score);
        assert_eq!(bars.len(), request.bars as usize, "{context}: bar count");
        let (n, d) = request.meter.unwrap_or((4, 4));
        assert!(
            bars.bars()
                .iter()
                .all(|b| (b.meter.numerator, b.meter.denominator) == (n, d)),
            "{context}: meter"
        );
        let mut wanted = request.layers.clone();
        wanted.sort();
        wanted.dedup();
        let roles: Vec<Role> = score.tracks.iter().map(|t| t.role).collect();
        let expected: Vec<Role> = wanted.iter().map(|l| l.role()).collect();
        assert_eq!(
            roles, expected,
            "{context}: one track per layer, melody first"
        );
        let key = allowed(c.key);
        for track in &score.tracks {
            for n in &track.notes {
                assert!((1..=127).contains(&n.velocity), "{context}: velocity");
                assert!(n.end() <= score.end_tick, "{context}: note past the end");
                match track.role {
                    Role::Drums => {
                        assert_eq!(track.channel, 9);
                        assert!((35..=81).contains(&n.pitch), "{context}: drum {}", n.pitch);
                    }
                    role => {
                        let range = match role {
                            Role::Melody => &request.ranges.melody,
                            Role::Bass => &request.ranges.bass,
                            _ => &request.ranges.chords,
                        };
                        assert!(range.contains(&n.pitch), "{context}: {role:?} {}", n.pitch);
                        assert!(
                            key.contains(&(n.pitch % 12)),
                            "{context}: {role:?} pitch {} out of {}",
                            n.pitch,
                            c.key
                        );
                    }
                }
            }
            if matches!(track.role, Role::Melody | Role::Bass) {
                assert_eq!(
                    overlaps(&track.notes),
                    None,
                    "{context}: {:?} overlaps",
                    track.role
                );
            }
        }
        if request.looped {
            assert!(
                score
                    .tracks
                    .iter()
                    .flat_map(|t| &t.notes)
                    .all(|n| n.end() <= score.end_tick)
            );
        }
    }
}

const METERS: [(u8, u8); 6] = [(4, 4), (3, 4), (6, 8), (2, 4), (9, 8), (7, 8)];
const MODES: [Mode; 4] = [
    Mode::Major,
    Mode::NaturalMinor,
    Mode::Dorian,
    Mode::MinorPentatonic,
];
const LAYER_SETS: [&[Layer]; 4] = [
    &[Layer::Melody],
    &[Layer::Melody, Layer::Bass],
    &[Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums],
    &[Layer::Melody, Layer::Drums],
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every constraint on every output, over seeds, keys, modes, meters, layers, loops,
    /// intensity ramps and sampling settings; a third of the cases make the model write
    /// every layer (exercising chord and drum masks), hot sampling stresses the masks.
    #[test]
    fn every_output_keeps_every_hard_constraint(
        seed in 0u64..1_000_000,
        rnn in any::<bool>(),
        tonic in 0u8..12,
        mode in 0usize..MODES.len(),
        meter in 0usize..METERS.len(),
        layers in 0usize..LAYER_SETS.len(),
        bars in 1u32..7,
        looped in any::<bool>(),
        all_by_model in 0u8..3,
        ramp in (0.0f64..=1.0, 0.0f64..=1.0),
        temperature in 0.0f32..2.0,
        top_k in prop::option::of(1usize..20),
    ) {
        let layers = LAYER_SETS[layers].to_vec();
        let request = Request {
            key: Some(Scale::new(PitchClass::from_midi(tonic), MODES[mode])),
            meter: Some(METERS[meter]),
            bars,
            looped,
            layers: layers.clone(),
            intensity: Curve::Ramp { from: ramp.0, to: ramp.1 },
            density: Curve::PerBar(vec![ramp.1, ramp.0, 0.5]),
            sampling: SamplingSettings { temperature, top_k, top_p: Some(0.98) },
            seed,
            candidates: 2,
            model_layers: (all_by_model == 0).then_some(layers),
            ..Request::default()
        };
        let c = compose(rnn, &request);
        check_new_piece(&request, &c);
    }
}

#[test]
fn model_and_arranger_layers_are_reported() {
    let request = Request {
        layers: vec![Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums],
        seed: 5,
        ..Request::default()
    };
    let c = compose(false, &request);
    let sources: Vec<(Layer, Source)> = c.layers.iter().map(|l| (l.layer, l.source)).collect();
    assert_eq!(
        sources,
        [
            (Layer::Melody, Source::Model),
            (Layer::Bass, Source::Arranger),
            (Layer::Chords, Source::Arranger),
            (Layer::Drums, Source::Arranger)
        ],
        "the shipped models were not trained with bass in folk style, nor ever with chords or drums"
    );
    assert!(c.layers.iter().all(|l| l.notes > 0), "{:?}", c.layers);
    // In the chorale idiom (sparse, four voices) the model writes the bass itself.
    let chorale = Request {
        style: Some(leitmotif_tokens::Style::Chorale),
        density: Curve::Constant(0.17),
        layers: vec![Layer::Melody, Layer::Bass],
        seed: 5,
        ..Request::default()
    };
    let c = compose(false, &chorale);
    assert_eq!(c.layers[1].source, Source::Model, "{:?}", c.layers);
}

#[test]
fn continuing_keeps_the_primer_note_for_note() {
    let primer = example("folk_the_enchanted_valley.mid");
    let primer_bars = BarMap::new(&primer).len() as u32;
    for (seed, layers) in [
        (1, vec![Layer::Melody]),
        (2, vec![Layer::Melody, Layer::Bass]),
    ] {
        let request = Request {
            task: Task::Continue {
                primer: primer.clone(),
            },
            bars: 4,
            layers,
            seed,
            ..Request::default()
        };
        let c = compose(false, &request);
        assert!(c.violations().is_empty(), "{:?}", c.violations());
        assert_eq!(c.total_bars, primer_bars + 4);
        assert_eq!(BarMap::new(&c.score).len() as u32, primer_bars + 4);
        assert_eq!(*c.bars.start(), primer_bars + 1);
        let (start, _) = c.span;
        for (i, track) in primer.tracks.iter().enumerate() {
            let kept: Vec<&Note> = c.score.tracks[i]
                .notes
                .iter()
                .filter(|n| n.start < start)
                .collect();
            let original: Vec<&Note> = track.notes.iter().collect();
            assert_eq!(kept, original, "track {i} changed");
            let new = c.score.tracks[i].notes.len() - kept.len();
            assert!(new > 0, "track {i} was not continued");
            assert_eq!(
                overlaps(&c.score.tracks[i].notes),
                None,
                "the seam overlaps"
            );
        }
        assert_eq!(c.score.tempos, primer.tempos, "the primer's tempo goes on");
    }
}

#[test]
fn infill_changes_only_the_chosen_bars_and_layer() {
    let input = example("chorale_bwv_101_7.mid");
    let bars = BarMap::new(&input);
    let request = Request {
        task: Task::Infill {
            score: input.clone(),
            bars: 3..=4,
            layer: Some(Layer::Melody),
        },
        seed: 11,
        candidates: 3,
        ..Request::default()
    };
    let c = compose(false, &request);
    assert!(c.violations().is_empty(), "{:?}", c.violations());
    let (lo, hi) = (bars.bars()[2].start, bars.bars()[3].end());
    assert_eq!(c.span, (lo, hi));
    assert_eq!(c.score.tracks.len(), input.tracks.len());
    for (i, (before, after)) in input.tracks.iter().zip(&c.score.tracks).enumerate() {
        let outside = |t: &leitmotif_score::Track| -> Vec<Note> {
            t.notes
                .iter()
                .filter(|n| n.start < lo || n.start >= hi)
                .copied()
                .collect()
        };
        assert_eq!(
            outside(before),
            outside(after),
            "track {i} changed outside bars 3-4"
        );
        if i != 0 {
            assert_eq!(
                before.notes, after.notes,
                "track {i} is not the melody but changed"
            );
        }
    }
    let new: Vec<&Note> = c.score.tracks[0]
        .notes
        .iter()
        .filter(|n| n.start >= lo && n.start < hi)
        .collect();
    assert!(!new.is_empty());
    assert!(
        new.iter().all(|n| n.end() <= hi),
        "the new melody runs into bar 5"
    );
    assert_eq!(c.candidate_bits.len(), 3);
    let best = c
        .candidate_bits
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        c.join_bits,
        Some(best),
        "the join is scored and the best candidate kept"
    );

    // Every layer of a generated four-layer piece, bars 2..3 of 4.
    let piece = compose(
        true,
        &Request {
            layers: vec![Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums],
            bars: 4,
            seed: 4,
            ..Request::default()
        },
    );
    let bars = BarMap::new(&piece.score);
    let (lo, hi) = (bars.bars()[1].start, bars.bars()[2].end());
    let c = compose(
        true,
        &Request {
            task: Task::Infill {
                score: piece.score.clone(),
                bars: 2..=3,
                layer: None,
            },
            seed: 9,
            ..Request::default()
        },
    );
    assert!(c.violations().is_empty(), "{:?}", c.violations());
    for (before, after) in piece.score.tracks.iter().zip(&c.score.tracks) {
        let outside = |t: &leitmotif_score::Track| -> Vec<Note> {
            t.notes
                .iter()
                .filter(|n| n.start < lo || n.start >= hi)
                .copied()
                .collect()
        };
        assert_eq!(
            outside(before),
            outside(after),
            "{} changed outside",
            before.name
        );
        assert!(
            after.notes.iter().any(|n| n.start >= lo && n.start < hi),
            "{} left empty",
            after.name
        );
    }
}

#[test]
fn an_infill_asked_in_a_mode_keeps_it_where_the_signature_cannot_name_it() {
    // G mixolydian is written with G major's signature (one sharp): an infill asked in G
    // mixolydian rewrites its bars in it (F natural, never F sharp); asked in no key, the
    // signature's G major.
    let g_mixolydian = Scale::new(PitchClass::G, Mode::Mixolydian);
    let piece = compose(
        true,
        &Request {
            key: Some(g_mixolydian),
            bars: 4,
            seed: 3,
            ..Request::default()
        },
    );
    assert_eq!(piece.key, g_mixolydian);
    let infill = |key: Option<Scale>| {
        compose(
            true,
            &Request {
                task: Task::Infill {
                    score: piece.score.clone(),
                    bars: 3..=4,
                    layer: None,
                },
                key,
                seed: 8,
                ..Request::default()
            },
        )
    };
    let kept = infill(Some(g_mixolydian));
    assert_eq!(kept.key, g_mixolydian);
    let mixolydian: Vec<bool> = (0..12)
        .map(|pc| allowed(g_mixolydian).contains(&pc))
        .collect();
    assert!(!kept.allowed.is_empty());
    for (start, end, mask) in &kept.allowed {
        assert_eq!(
            &mask[..],
            &mixolydian[..],
            "bar {start}..{end} masked otherwise"
        );
    }
    let bars = BarMap::new(&kept.score);
    let lo = bars.bars()[2].start;
    let scale = allowed(g_mixolydian);
    for note in kept
        .score
        .tracks
        .iter()
        .filter(|t| t.role != Role::Drums)
        .flat_map(|t| &t.notes)
    {
        assert!(
            note.start < lo || scale.contains(&(note.pitch % 12)),
            "{} at {} is not in G mixolydian",
            note.pitch,
            note.start
        );
    }
    assert_eq!(infill(None).key, Scale::new(PitchClass::G, Mode::Major));
}

#[test]
fn a_loop_closes_on_its_first_bar() {
    let request = Request {
        layers: vec![Layer::Melody, Layer::Bass, Layer::Chords],
        bars: 4,
        looped: true,
        candidates: 4,
        seed: 21,
        ..Request::default()
    };
    let c = compose(false, &request);
    check_new_piece(&request, &c);
    let end = c.score.end_tick;
    assert_eq!(end, BarMap::new(&c.score).bars()[3].end());
    assert!(
        c.score
            .tracks
            .iter()
            .flat_map(|t| &t.notes)
            .all(|n| n.end() <= end),
        "a note rings past the seam"
    );
    assert_eq!(c.candidate_bits.len(), 4);
    let best = c
        .candidate_bits
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert_eq!(c.join_bits, Some(best));
}

#[test]
fn candidates_decoded_together_are_the_drafts_decoded_alone() {
    // The LSTM's drafts decode in one batch per step; each must be the draft its seed gives
    // when decoded alone (the first of N is the only one of 1), and the batch must not make
    // the result depend on anything but the request.
    let request = |candidates| Request {
        layers: vec![Layer::Melody, Layer::Bass],
        bars: 4,
        looped: true,
        candidates,
        seed: 5,
        ..Request::default()
    };
    let four = compose(true, &request(4));
    let again = compose(true, &request(4));
    let one = compose(true, &request(1));
    check_new_piece(&request(4), &four);
    assert_eq!(four.candidate_bits, again.candidate_bits);
    assert_eq!(four.score, again.score);
    assert_eq!(four.candidate_bits.len(), 4);
    assert!(
        (four.candidate_bits[0] - one.candidate_bits[0]).abs() < 1e-3,
        "{:?} against {:?}",
        four.candidate_bits,
        one.candidate_bits
    );
    let distinct: BTreeSet<u64> = four.candidate_bits.iter().map(|b| b.to_bits()).collect();
    assert!(
        distinct.len() > 1,
        "the drafts differ: {:?}",
        four.candidate_bits
    );
}

#[test]
fn same_request_and_seed_give_the_same_bytes() {
    let moods = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
    let (mut request, _) = Request::from_prompt("heroic march in Bb with drums, 8 bars", &moods);
    request.seed = 2026;
    let a = write_midi(&compose(false, &request).score).unwrap_or_else(|e| panic!("{e}"));
    let b = write_midi(&compose(false, &request).score).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    request.seed = 2027;
    let other = write_midi(&compose(false, &request).score).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a, other, "another seed, other music");
    // Golden hash of the seed-2026 file on the CPU backend. It changes legitimately when the
    // shipped weights, the vocabulary, the masks, the arranger or the MIDI writer change:
    // then listen to the new output and update GOLDEN to the hash printed here (last: the
    // register "around" a value picked by phrase).
    const GOLDEN: u64 = 0x33e9_08d7_e350_a5aa;
    let hash = Fnv1a::hash(&a);
    assert_eq!(hash, GOLDEN, "golden hash changed: new value {hash:#018x}");
}

#[test]
fn prompts_become_requests_and_unused_words_are_reported() {
    let moods = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
    let (r, parsed) = Request::from_prompt("tense dungeon chase in D minor, 150 bpm", &moods);
    assert_eq!(r.key, "D minor".parse().ok());
    assert_eq!(r.tempo_bpm, Some(150.0));
    assert_eq!(parsed.moods, ["tense", "eerie"]);
    // The union of the moods' layers.
    assert_eq!(
        r.layers,
        [Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums]
    );
    assert!(parsed.unused.is_empty());
    let (r, parsed) = Request::from_prompt(
        "calm loop with bass and harp, 12 bars in 3/4, sparkly",
        &moods,
    );
    assert!(r.looped);
    assert_eq!((r.bars, r.meter), (12, Some((3, 4))));
    assert_eq!(r.layers, [Layer::Melody, Layer::Bass, Layer::Chords]);
    assert_eq!(r.programs, [(Layer::Melody, 46)]);
    assert_eq!(parsed.unused, ["with", "and", "sparkly"]);
    assert_eq!(r.key, None);
    // No key named: the seed picks a tonic in the mood's mode.
    let c = compose(true, &Request { bars: 2, ..r });
    assert_eq!(c.key.mode, Mode::Major);
}

#[test]
fn bad_requests_get_typed_errors_naming_the_problem() {
    let c = composer(true);
    let cases: Vec<(Request, &str)> = vec![
        (
            Request {
                bars: 0,
                ..Request::default()
            },
            "bars",
        ),
        (
            Request {
                tempo_bpm: Some(1000.0),
                ..Request::default()
            },
            "tempo",
        ),
        (
            Request {
                meter: Some((11, 8)),
                ..Request::default()
            },
            "meter 11/8",
        ),
        (
            Request {
                intensity: Curve::Ramp { from: 0.2, to: 1.5 },
                ..Request::default()
            },
            "intensity 1.5",
        ),
        (
            Request {
                sampling: SamplingSettings {
                    top_p: Some(0.0),
                    ..SamplingSettings::default()
                },
                ..Request::default()
            },
            "top-p",
        ),
        (
            Request {
                sampling: SamplingSettings {
                    top_k: Some(0),
                    ..SamplingSettings::default()
                },
                ..Request::default()
            },
            "top-k",
        ),
        (
            Request {
                layers: vec![Layer::Inner1],
                ..Request::default()
            },
            "Inner1",
        ),
        (
            Request {
                candidates: 0,
                ..Request::default()
            },
            "candidates",
        ),
        (
            Request {
                task: Task::Infill {
                    score: example("chorale_bwv_101_7.mid"),
                    bars: 11..=14,
                    layer: None,
                },
                ..Request::default()
            },
            "past the score's 12 bars",
        ),
        (
            Request {
                task: Task::Continue {
                    primer: example("chorale_bwv_101_7.mid"),
                },
                looped: true,
                ..Request::default()
            },
            "loop",
        ),
    ];
    for (request, needle) in cases {
        match c.compose(&request) {
            Err(e @ ComposeError::Request(_)) => {
                assert!(e.to_string().contains(needle), "{e} should name {needle}");
            }
            other => panic!("{needle}: expected a request error, got {other:?}"),
        }
    }
}

#[test]
fn dynamics_use_at_least_32_velocity_levels_and_follow_intensity() {
    let request = Request {
        layers: vec![Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums],
        bars: 16,
        intensity: Curve::Ramp {
            from: 0.1,
            to: 0.95,
        },
        seed: 8,
        ..Request::default()
    };
    let c = compose(true, &request);
    let levels: BTreeSet<u8> = c
        .score
        .tracks
        .iter()
        .flat_map(|t| t.notes.iter().map(|n| n.velocity))
        .collect();
    assert!(levels.len() >= 32, "{} levels", levels.len());
    let bars = BarMap::new(&c.score);
    let mean = |bar: usize| {
        let b = bars.bars()[bar];
        let v: Vec<f64> = c
            .score
            .tracks
            .iter()
            .flat_map(|t| &t.notes)
            .filter(|n| n.start >= b.start && n.start < b.end())
            .map(|n| f64::from(n.velocity))
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    assert!(mean(15) > mean(0) + 20.0, "{} vs {}", mean(0), mean(15));
}

/// The GPU path: the same composer on wgpu (lavapipe on a machine without a GPU) keeps every
/// constraint and is deterministic on its backend. `LEITMOTIF_SKIP_WGPU_TESTS=1` skips it
/// where no adapter exists.
#[test]
fn composing_on_wgpu_keeps_the_constraints_and_is_deterministic() {
    if leitmotif_model::probe_wgpu().is_empty() {
        if std::env::var("LEITMOTIF_SKIP_WGPU_TESTS").is_ok_and(|v| v == "1") {
            return;
        }
        panic!(
            "no wgpu adapter: install Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`) \
             or set LEITMOTIF_SKIP_WGPU_TESTS=1 to skip"
        );
    }
    let composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Wgpu)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        composer.backend().starts_with("wgpu"),
        "{}",
        composer.backend()
    );
    let request = Request {
        key: Some(Scale::new(PitchClass::from_midi(2), Mode::NaturalMinor)),
        layers: vec![Layer::Melody, Layer::Bass],
        bars: 2,
        seed: 3,
        ..Request::default()
    };
    let a = composer.compose(&request).unwrap_or_else(|e| panic!("{e}"));
    check_new_piece(&request, &a);
    let b = composer.compose(&request).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        a.score, b.score,
        "same request and seed on one backend, same music"
    );
}
