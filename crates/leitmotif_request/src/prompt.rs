//! Text prompts to controls, by a deterministic parser (no model): key names and modes,
//! tempo words and numbers, meters and dance types, bar counts, instruments, loops, and
//! mood words looked up in a [`MoodTable`]. Every word the parser did not use is reported
//! back in [`PromptControls::unused`].
//!
//! ```
//! use leitmotif_request::{MoodTable, parse_prompt};
//!
//! let moods = MoodTable::default_table()?;
//! let controls = parse_prompt("tense dungeon chase in D minor, 150 bpm", &moods);
//! assert_eq!(controls.scale.map(|s| s.to_string()).as_deref(), Some("D minor"));
//! assert_eq!(controls.tempo_bpm, Some(150.0));
//! assert_eq!(controls.moods, ["tense", "eerie"]);
//! assert!(controls.unused.is_empty());
//! # Ok::<(), leitmotif_request::MoodError>(())
//! ```

use std::collections::BTreeMap;

use leitmotif_score::Role;
use leitmotif_score::theory::{Mode, Scale};
use leitmotif_tokens::Style;
use serde::{Deserialize, Serialize};

use crate::moods::MoodTable;

/// What a prompt asks for. `None` and empty lists mean "not said".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptControls {
    /// Tonic and mode, when a key was named ("in D minor", "F# dorian", "C#m").
    pub scale: Option<Scale>,
    /// A mode named without a tonic ("in a minor key" → none; "dorian" → dorian).
    pub mode: Option<Mode>,
    /// Tempo from a number ("150 bpm") or a tempo word ("allegro", "slow").
    pub tempo_bpm: Option<f64>,
    /// Meter ("6/8", or implied by a dance type such as "waltz").
    pub meter: Option<(u8, u8)>,
    /// Number of bars ("16 bars", "8-bar").
    pub bars: Option<u32>,
    /// Style tag from a dance or form word ("jig", "chorale").
    pub style: Option<Style>,
    /// Mood names matched, in prompt order.
    pub moods: Vec<String>,
    /// Layers named ("with drums", "bass") — added to the moods' layers.
    pub layers: Vec<Role>,
    /// Instruments named, as General MIDI programs for a role.
    pub programs: BTreeMap<Role, u8>,
    /// Whether a loop was asked for ("loop", "looping", "seamless").
    pub looped: bool,
    /// Words used, in prompt order.
    pub used: Vec<String>,
    /// Words not used, in prompt order: reported so nothing is silently dropped.
    pub unused: Vec<String>,
}

/// Tempo words and their tempos.
const TEMPO_WORDS: [(&str, f64); 14] = [
    ("grave", 40.0),
    ("largo", 50.0),
    ("lento", 56.0),
    ("adagio", 70.0),
    ("slow", 72.0),
    ("andante", 90.0),
    ("moderato", 110.0),
    ("moderate", 110.0),
    ("allegretto", 116.0),
    ("allegro", 132.0),
    ("fast", 150.0),
    ("quick", 150.0),
    ("vivace", 160.0),
    ("presto", 180.0),
];

/// Dance and form words: style, meter and a typical tempo.
const FORM_WORDS: [(&str, Style, (u8, u8), f64); 8] = [
    ("jig", Style::Jig, (6, 8), 116.0),
    ("reel", Style::Reel, (4, 4), 112.0),
    ("hornpipe", Style::Hornpipe, (4, 4), 96.0),
    ("waltz", Style::Waltz, (3, 4), 132.0),
    ("march", Style::March, (2, 4), 112.0),
    ("chorale", Style::Chorale, (4, 4), 76.0),
    ("hymn", Style::Chorale, (4, 4), 76.0),
    ("air", Style::Air, (3, 4), 72.0),
];

/// Instrument words: the role they play and their General MIDI program.
const INSTRUMENTS: [(&str, Role, u8); 24] = [
    ("piano", Role::Melody, 0),
    ("harpsichord", Role::Melody, 6),
    ("celesta", Role::Melody, 8),
    ("glockenspiel", Role::Melody, 9),
    ("bells", Role::Melody, 14),
    ("organ", Role::Chords, 19),
    ("accordion", Role::Melody, 21),
    ("guitar", Role::Melody, 24),
    ("violin", Role::Melody, 40),
    ("fiddle", Role::Melody, 40),
    ("cello", Role::Bass, 42),
    ("harp", Role::Melody, 46),
    ("strings", Role::Chords, 48),
    ("choir", Role::Chords, 52),
    ("trumpet", Role::Melody, 56),
    ("brass", Role::Chords, 61),
    ("horn", Role::Melody, 60),
    ("oboe", Role::Melody, 68),
    ("clarinet", Role::Melody, 71),
    ("flute", Role::Melody, 73),
    ("whistle", Role::Melody, 78),
    ("synth", Role::Melody, 80),
    ("pad", Role::Chords, 89),
    ("bagpipe", Role::Melody, 109),
];

/// Parses `prompt` against `moods`. Never fails: what it cannot use is in `unused`.
pub fn parse_prompt(prompt: &str, moods: &MoodTable) -> PromptControls {
    let words: Vec<String> = prompt
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | '"' | '(' | ')')))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let mut out = PromptControls::default();
    let mut used = vec![false; words.len()];
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let mut i = 0;
    while i < words.len() {
        let taken = take_phrase(&words, &lower, i, moods, &mut out);
        if taken > 0 {
            used[i..i + taken].iter_mut().for_each(|u| *u = true);
            i += taken;
        } else {
            i += 1;
        }
    }
    for (word, used) in words.iter().zip(&used) {
        if *used {
            out.used.push(word.clone());
        } else {
            out.unused.push(word.clone());
        }
    }
    out
}

/// Tries every phrase kind at word `i`; returns how many words it used (0: none).
fn take_phrase(
    words: &[String],
    lower: &[String],
    i: usize,
    moods: &MoodTable,
    out: &mut PromptControls,
) -> usize {
    let word = lower[i].as_str();
    let next = lower.get(i + 1).map(String::as_str);
    // "in D minor", "key of G", "D minor", "F# dorian", "C#m".
    if let Some(taken) = key_phrase(words, lower, i, out) {
        return taken;
    }
    // "150 bpm", "150bpm", "bpm 150", "tempo 150", "at 150 bpm".
    if let Some(bpm) = word.strip_suffix("bpm").and_then(|n| n.parse::<f64>().ok()) {
        return set_tempo(out, bpm, 1);
    }
    if let (Ok(bpm), Some("bpm")) = (word.parse::<f64>(), next) {
        return set_tempo(out, bpm, 2);
    }
    if matches!(word, "bpm" | "tempo")
        && let Some(bpm) = next.and_then(|n| n.parse::<f64>().ok())
    {
        return set_tempo(out, bpm, 2);
    }
    // "16 bars", "8-bar", "bars: 16".
    if let Some(bars) = word
        .strip_suffix("-bar")
        .or(word.strip_suffix("-bars"))
        .and_then(|n| n.parse().ok())
    {
        out.bars = Some(bars);
        return 1;
    }
    if let (Ok(bars), Some("bars" | "bar" | "measures")) = (word.parse::<u32>(), next) {
        out.bars = Some(bars);
        return 2;
    }
    // "in 6/8": the meter takes the "in".
    if word == "in"
        && let Some(next) = next
        && let Some((n, d)) = next.split_once('/')
        && let (Ok(n), Ok(d)) = (n.parse::<u8>(), d.parse::<u8>())
        && n > 0
        && d.is_power_of_two()
    {
        out.meter = Some((n, d));
        return 2;
    }
    // "6/8".
    if let Some((n, d)) = word.split_once('/')
        && let (Ok(n), Ok(d)) = (n.parse::<u8>(), d.parse::<u8>())
        && n > 0
        && d.is_power_of_two()
    {
        out.meter = Some((n, d));
        return 1;
    }
    if let Some((_, bpm)) = TEMPO_WORDS.iter().find(|(w, _)| *w == word) {
        out.tempo_bpm.get_or_insert(*bpm);
        return 1;
    }
    // "drums" → "drum", but "bass" and "brass" stay as they are.
    let singular = if word.ends_with("ss") {
        word
    } else {
        word.strip_suffix('s').unwrap_or(word)
    };
    if let Some((_, style, meter, _)) = FORM_WORDS
        .iter()
        .find(|(w, ..)| *w == word || *w == singular)
    {
        out.style.get_or_insert(*style);
        out.meter.get_or_insert(*meter);
        return 1;
    }
    if matches!(
        word,
        "loop" | "looping" | "loopable" | "seamless" | "looped"
    ) {
        out.looped = true;
        return 1;
    }
    if matches!(singular, "drum" | "percussion") {
        push_layer(out, Role::Drums);
        return 1;
    }
    if matches!(singular, "bass" | "bassline") {
        push_layer(out, Role::Bass);
        return 1;
    }
    if matches!(singular, "chord" | "harmony") {
        push_layer(out, Role::Chords);
        return 1;
    }
    if let Some((_, role, program)) = INSTRUMENTS
        .iter()
        .find(|(w, ..)| *w == word || *w == singular)
    {
        out.programs.insert(*role, *program);
        push_layer(out, *role);
        return 1;
    }
    if let Some((name, _)) = moods.lookup(word) {
        if !out.moods.iter().any(|m| m == name) {
            out.moods.push(name.to_owned());
        }
        return 1;
    }
    // A mode with no tonic: "dorian", "in a minor key".
    if let Ok(mode) = word.parse::<Mode>()
        && word.len() > 2
    {
        out.mode.get_or_insert(mode);
        return 1;
    }
    0
}

fn set_tempo(out: &mut PromptControls, bpm: f64, taken: usize) -> usize {
    if bpm.is_finite() && (20.0..=400.0).contains(&bpm) {
        out.tempo_bpm = Some(bpm);
        taken
    } else {
        0
    }
}

fn push_layer(out: &mut PromptControls, role: Role) {
    if !out.layers.contains(&role) {
        out.layers.push(role);
    }
}

/// A key phrase at `i`: an optional "in"/"key"/"key of", a tonic (with its mode as the next
/// word or attached, "C#m"). A bare tonic letter needs the "in"/"key" before it, so the
/// article in "a calm tune" is not A major.
fn key_phrase(
    words: &[String],
    lower: &[String],
    i: usize,
    out: &mut PromptControls,
) -> Option<usize> {
    let mut start = i;
    let mut introduced = false;
    if matches!(lower[i].as_str(), "in" | "key") {
        start += 1;
        introduced = true;
        if lower.get(start).map(String::as_str) == Some("of") {
            start += 1;
        }
    }
    let tonic = words.get(start)?;
    // Two-word modes first ("harmonic minor"), then one word, then the tonic alone.
    for mode_words in [2usize, 1, 0] {
        let end = start + 1 + mode_words;
        if end > words.len() {
            continue;
        }
        let text = words[start..end].join(" ");
        let Ok(scale) = text.parse::<Scale>() else {
            continue;
        };
        let bare_letter = mode_words == 0 && tonic.len() == 1;
        let attached_mode = mode_words == 0 && tonic.len() > 1;
        let is_key = introduced
            || mode_words > 0
            || attached_mode && tonic.chars().next().is_some_and(char::is_uppercase);
        if bare_letter && !introduced || !is_key {
            continue;
        }
        // "in C minor key": swallow a trailing "key".
        let trailing = usize::from(lower.get(end).map(String::as_str) == Some("key"));
        out.scale = Some(scale);
        return Some(end - i + trailing);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PromptControls {
        let moods = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
        parse_prompt(text, &moods)
    }

    #[test]
    fn the_issue_example() {
        let c = parse("tense dungeon chase in D minor, 150 bpm");
        assert_eq!(c.scale, "D minor".parse().ok());
        assert_eq!(c.tempo_bpm, Some(150.0));
        assert_eq!(c.moods, ["tense", "eerie"]);
        assert!(c.unused.is_empty(), "{:?}", c.unused);
    }

    #[test]
    fn keys_in_many_spellings_and_no_false_keys() {
        for (text, key) in [
            ("a jig in G", "G major"),
            ("F# dorian groove", "F# dorian"),
            ("C#m ballad", "C# minor"),
            ("something in the key of Eb", "Eb major"),
            ("in a harmonic minor", "A harmonic minor"),
            ("Bb major march", "Bb major"),
        ] {
            assert_eq!(parse(text).scale, key.parse().ok(), "{text}");
        }
        let c = parse("a calm tune for a village");
        assert_eq!(c.scale, None, "the article is not A major");
        assert_eq!(c.moods, ["calm", "playful"]);
        assert_eq!(c.unused, ["a", "tune", "for", "a"]);
    }

    #[test]
    fn tempo_meter_bars_layers_and_loops() {
        let c = parse("heroic 6/8 theme, 16 bars at 140bpm with drums and flute, looping");
        assert_eq!(c.meter, Some((6, 8)));
        assert_eq!(c.bars, Some(16));
        assert_eq!(c.tempo_bpm, Some(140.0));
        assert_eq!(c.layers, [Role::Drums, Role::Melody]);
        assert_eq!(c.programs.get(&Role::Melody), Some(&73));
        assert!(c.looped);
        assert_eq!(c.unused, ["theme", "at", "with", "and"]);
        let waltz = parse("sad slow waltz, 8-bar");
        assert_eq!(
            (waltz.meter, waltz.style, waltz.bars),
            (Some((3, 4)), Some(Style::Waltz), Some(8))
        );
        assert_eq!(waltz.tempo_bpm, Some(72.0));
        assert_eq!(waltz.moods, ["sad"]);
    }

    #[test]
    fn absurd_numbers_are_not_used() {
        let c = parse("9999 bpm, 0/3 and 7/0");
        assert_eq!(c.tempo_bpm, None);
        assert_eq!(c.meter, None);
        assert_eq!(c.unused, ["9999", "bpm", "0/3", "and", "7/0"]);
    }

    #[test]
    fn the_default_mood_table_is_valid_and_a_bad_one_is_rejected() {
        let table = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
        for mood in [
            "calm",
            "tense",
            "heroic",
            "sad",
            "mysterious",
            "playful",
            "epic",
            "eerie",
        ] {
            assert!(table.moods.contains_key(mood), "{mood}");
        }
        let bad = crate::moods::DEFAULT_MOODS_RON.replacen("tempo_bpm: 96", "tempo_bmp: 96", 1);
        let e = MoodTable::from_ron(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("tempo_bmp"), "{e}");
        let bad = crate::moods::DEFAULT_MOODS_RON.replacen("intensity: 0.25", "intensity: 2.5", 1);
        let e = MoodTable::from_ron(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("intensity 2.5"), "{e}");
    }
}
