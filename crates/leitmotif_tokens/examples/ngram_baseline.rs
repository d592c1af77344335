//! Shows the n-gram baseline's validation bits per token on a corpus, for orders 1 to 6.
//!
//! `cargo run --release -p leitmotif_tokens --example ngram_baseline -- ../shared/data`
#![expect(clippy::print_stdout, reason = "an example prints what it found")]

use std::path::PathBuf;

use leitmotif_tokens::ngram::KneserNey;
use leitmotif_tokens::{Corpus, Split, VOCAB_SIZE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let corpus = Corpus::load(&dir)?;
    println!(
        "{} pieces, train {} tokens, validation {} tokens, {} skipped",
        corpus.pieces.len(),
        corpus.tokens(Split::Train),
        corpus.tokens(Split::Validation),
        corpus.skipped.len()
    );
    for order in 1..=6 {
        let model = KneserNey::fit(
            order,
            VOCAB_SIZE,
            corpus.split(Split::Train).map(|p| p.ids.as_slice()),
        );
        let (bits, n) =
            model.bits_per_token(corpus.split(Split::Validation).map(|p| p.ids.as_slice()));
        println!("{order}-gram: {bits:.4} bits/token over {n} tokens");
    }
    Ok(())
}
