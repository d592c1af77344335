//! The vocabulary on real music and on random scores: lossless on quantized input, every
//! encoded piece obeys the grammar, and the grammar rejects what would not decode.

use std::path::PathBuf;

use leitmotif_score::{Note, Role, Score, TimeSignatureChange, Track};
use leitmotif_tokens::grammar::Grammar;
use leitmotif_tokens::{Corpus, Split, Style, Token, decode, encode, encode_ids, quantize};
use proptest::prelude::*;

/// The package's folder, read at run time (cargo sets it for tests): a test binary built in
/// another checkout sharing the target folder must still read this checkout's files.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn data_dir() -> PathBuf {
    std::env::var_os("LEITMOTIF_DATA").map_or_else(
        || manifest_dir().join("../../../shared/data"),
        PathBuf::from,
    )
}

#[test]
fn real_pieces_are_lossless_after_quantization() {
    // The chorales exercise four layers; the folk tunes every meter and key.
    let corpus = Corpus::load(&data_dir().join("parts")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        corpus.pieces.len() > 400,
        "{} chorales",
        corpus.pieces.len()
    );
    let dir = data_dir().join("melody/misc_folk");
    let folk = Corpus::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    for (root, piece) in corpus
        .pieces
        .iter()
        .step_by(4)
        .map(|p| (data_dir().join("parts"), p))
        .chain(folk.pieces.iter().map(|p| (dir.clone(), p)))
    {
        let path = root.join(&piece.path);
        let score = leitmotif_score::read_score(&path).unwrap_or_else(|e| panic!("{e}"));
        let q = quantize(&score).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            quantize(&q).as_ref(),
            Ok(&q),
            "quantize is not idempotent: {}",
            path.display()
        );
        let decoded = decode(&piece.ids).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(decoded.score, q, "{}", path.display());
        assert_eq!(encode_ids(&q, piece.style).as_ref(), Ok(&piece.ids));
        assert_eq!(decoded.style, Some(piece.style));
    }
}

#[test]
fn the_split_is_deterministic_and_about_a_tenth() {
    let dir = data_dir().join("melody");
    let a = Corpus::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let b = Corpus::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    assert!(
        a.pieces.len() > 3200 && a.skipped.len() < 10,
        "{} / {:?}",
        a.pieces.len(),
        a.skipped
    );
    let validation = a.split(Split::Validation).count();
    let share = validation as f64 / a.pieces.len() as f64;
    assert!(
        (0.04..0.2).contains(&share),
        "{validation} of {}",
        a.pieces.len()
    );
    assert!(
        a.pieces.iter().all(|p| p.style != Style::Other),
        "the manifest gives every tune a style"
    );
}

#[test]
fn a_user_folder_without_manifest_works() {
    let dir = tempfile_dir();
    let src = data_dir().join("parts/bach_chorales");
    let mut names: Vec<_> = std::fs::read_dir(&src)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for path in names.iter().take(12) {
        let name = path.file_name().unwrap_or_default();
        std::fs::copy(path, dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(dir.join("broken.mid"), b"MThd\0\0").unwrap_or_else(|e| panic!("{e}"));
    let corpus = Corpus::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(corpus.pieces.len(), 12);
    assert_eq!(corpus.skipped.len(), 1);
    assert!(
        corpus.skipped[0].1.contains("truncated"),
        "{:?}",
        corpus.skipped
    );
    assert!(corpus.pieces.iter().all(|p| p.style == Style::Other));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leitmotif-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn the_grammar_rejects_broken_sequences() {
    let mut score = Score::default();
    let mut melody = Track::new("Melody", Role::Melody, 73, 0);
    melody.notes = vec![
        Note {
            start: 0,
            duration: 480,
            pitch: 62,
            velocity: 90,
        },
        Note {
            start: 480,
            duration: 480,
            pitch: 65,
            velocity: 90,
        },
    ];
    score.tracks.push(melody);
    score.normalize();
    let tokens = encode(&score, Style::Folk).unwrap_or_else(|e| panic!("{e}"));
    let ok = |tokens: &[Token]| {
        let mut g = Grammar::new();
        tokens.iter().all(|t| g.advance(*t).is_ok()) && g.is_done()
    };
    assert!(ok(&tokens));
    let position = |p| tokens.iter().position(|t| *t == p).unwrap_or(0);
    // A position past the bar, a second position not after the first, a note with no
    // duration, a layer out of order, a missing control.
    let first_pos = position(Token::Position(0));
    let mut broken = tokens.clone();
    broken[first_pos] = Token::Position(48);
    assert!(!ok(&broken), "position 48 in a 4/4 bar of 48 units");
    let second_pos = position(Token::Position(12));
    let mut broken = tokens.clone();
    broken[second_pos] = Token::Position(0);
    assert!(!ok(&broken), "positions must rise");
    let mut broken = tokens.clone();
    broken.retain(|t| !matches!(t, Token::Duration(_)));
    assert!(!ok(&broken), "a pitch needs a duration");
    let mut broken = tokens.clone();
    broken.retain(|t| !matches!(t, Token::Register(_)));
    assert!(!ok(&broken), "controls are required");
    let mut broken = tokens.clone();
    broken.insert(broken.len() - 1, Token::Layer(Leitmotif::MELODY));
    assert!(!ok(&broken), "an empty layer, and a layer twice");
    assert!(decode(&[Token::Bos.id().unwrap_or(0)]).is_err(), "no Eos");
}

struct Leitmotif;
impl Leitmotif {
    const MELODY: leitmotif_tokens::Layer = leitmotif_tokens::Layer::Melody;
}

fn arbitrary_score() -> impl Strategy<Value = Score> {
    let note = (0u64..64, 1u64..40, 24u8..100, 1u8..=127);
    let track = (prop::collection::vec(note, 0..24), 0usize..5);
    (prop::collection::vec(track, 1..4), 0usize..4).prop_map(|(tracks, meter)| {
        let mut score = Score::default();
        let (numerator, denominator) = [(4, 4), (6, 8), (3, 4), (2, 2)][meter];
        score.time_signatures.push(TimeSignatureChange {
            tick: 0,
            numerator,
            denominator,
        });
        for (notes, role) in tracks {
            let role = [
                Role::Melody,
                Role::Bass,
                Role::Chords,
                Role::Drums,
                Role::Other,
            ][role];
            let mut track = Track::new(role.as_str(), role, 0, 0);
            track.notes = notes
                .into_iter()
                .map(|(s, d, pitch, velocity)| Note {
                    start: s * 60,
                    duration: d * 50,
                    pitch,
                    velocity,
                })
                .collect();
            score.tracks.push(track);
        }
        score.normalize();
        score
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_scores_decode_to_their_quantized_form(score in arbitrary_score()) {
        let q = quantize(&score).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ids = encode_ids(&score, Style::Other).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoded = decode(&ids).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded.score, q);
    }
}
