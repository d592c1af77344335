//! Leitmotifs with the default model: a theme's statement carries it whole, developments
//! (new ending, sequence, inversion) carry less of it but more than phrases composed in the
//! same mood without it (the baseline).

use leitmotif_compose::theme::{Development, Theme, ThemeTarget, development, recall, statement};
use leitmotif_compose::{Composer, Curve, MoodTable, Request};
use leitmotif_model::{BackendChoice, ModelSource};
use leitmotif_score::read_score;
use leitmotif_tokens::Layer;

const SEEDS: u64 = 3;

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

#[test]
fn statements_recall_the_theme_developments_less_and_unrelated_phrases_least() {
    // Read at run time: a test binary built in another checkout reads this one's files.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    );
    let path = dir.join("../../assets/examples/folk_the_enchanted_valley.mid");
    let score = read_score(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let theme = Theme::from_score(&score)
        .and_then(|t| t.head(4))
        .unwrap_or_else(|e| panic!("{e}"));
    let composer = Composer::load(&ModelSource::DefaultTransformer, BackendChoice::Cpu)
        .unwrap_or_else(|e| panic!("load: {e}"));
    let moods = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
    let tense = &moods.moods["tense"];
    let key = tense
        .key
        .key_after(Some(theme.key()), tense.mode)
        .unwrap_or(theme.key());
    let target = ThemeTarget {
        bars: Some(4),
        ..ThemeTarget::for_mood(tense, key, theme.meter())
    };
    let layers = vec![Layer::Melody, Layer::Bass, Layer::Drums];
    let (mut stated, mut developed, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..SEEDS {
        let s = statement(&theme, &target, &layers, tense.intensity, seed)
            .unwrap_or_else(|e| panic!("{e}"));
        stated.push(recall(&theme, &s.score, Some(s.span)).score);
        let base = Request {
            layers: layers.clone(),
            density: Curve::Constant(tense.density),
            intensity: Curve::Constant(tense.intensity),
            seed,
            ..Request::default()
        };
        for kind in [
            Development::NewEnding,
            Development::Sequence,
            Development::Inversion,
        ] {
            let request =
                development(&theme, kind, &target, &base).unwrap_or_else(|e| panic!("{e}"));
            let c = composer
                .compose(&request)
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            developed.push(recall(&theme, &c.score, Some(kind.phrase_span(&c))).score);
        }
        // The same mood, key, tempo, meter and bars, composed without the theme.
        let request = Request {
            key: Some(key),
            tempo_bpm: Some(target.bpm),
            meter: Some((theme.meter().numerator, theme.meter().denominator)),
            bars: 4,
            ..base
        };
        let c = composer.compose(&request).unwrap_or_else(|e| panic!("{e}"));
        baseline.push(recall(&theme, &c.score, Some(c.span)).score);
    }
    // A statement loses points only where a note cannot keep its inflection in the new
    // mode or the grid merges two onsets: at most a tenth of them.
    assert!(stated.iter().all(|r| *r >= 0.9), "statements {stated:?}");
    let (s, d, b) = (mean(&stated), mean(&developed), mean(&baseline));
    assert!(
        s > d && d > b + 0.05,
        "statement {s:.2}, developments {d:.2}, baseline {b:.2}"
    );
    assert!(baseline.iter().all(|r| *r < 0.9), "baseline {baseline:?}");
}
