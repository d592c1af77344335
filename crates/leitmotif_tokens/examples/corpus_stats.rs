//! Shows how a folder of MIDI files tokenizes: files, tokens, tokens per bar, failures.
//!
//! `cargo run --release -p leitmotif_tokens --example corpus_stats -- ../shared/data`
#![expect(clippy::print_stdout, reason = "an example prints what it found")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leitmotif_tokens::{Style, decode, encode_ids, quantize};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "mid") {
            out.push(path);
        }
    }
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let (mut tokens, mut bars, mut ok, mut lossy) = (0usize, 0usize, 0usize, 0usize);
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut longest = 0;
    for path in &files {
        let score = match leitmotif_score::read_score(path) {
            Ok(s) => s,
            Err(e) => {
                *failures.entry(format!("read: {e}")).or_default() += 1;
                continue;
            }
        };
        match encode_ids(&score, Style::Other) {
            Ok(ids) => {
                let q = quantize(&score).ok();
                let back = decode(&ids).ok().map(|d| d.score);
                if back != q {
                    lossy += 1;
                }
                longest = longest.max(ids.len());
                tokens += ids.len();
                bars += ids
                    .iter()
                    .filter(|&&i| i == leitmotif_tokens::Token::Bar.id().unwrap_or(0))
                    .count();
                ok += 1;
            }
            Err(e) => {
                let kind = e
                    .to_string()
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                *failures.entry(kind).or_default() += 1;
            }
        }
    }
    println!(
        "{} files, {ok} encoded, {lossy} not round-tripping",
        files.len()
    );
    println!(
        "{tokens} tokens, {bars} bars, {:.1} tokens/bar, longest piece {longest}",
        tokens as f64 / bars.max(1) as f64
    );
    for (kind, count) in failures {
        println!("  {count:>5}  {kind}");
    }
}
