//! Shows reading a MIDI file and printing its key estimate and per-bar note density.
//!
//! `cargo run --example key_and_density -- assets/examples/folk_the_enchanted_valley.mid`
#![expect(clippy::print_stdout, reason = "an example prints what it found")]

use std::path::PathBuf;

use leitmotif::score::{analysis, read_score};

fn main() -> Result<(), leitmotif::score::Error> {
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from("assets/examples/folk_the_enchanted_valley.mid"),
        PathBuf::from,
    );
    let score = read_score(&path)?;
    let piece = analysis::analyze(&score);
    if let Some(estimate) = &piece.estimated_key {
        println!(
            "{}: {} (r = {:.2})",
            path.display(),
            estimate.key.name(),
            estimate.correlation
        );
    }
    for bar in &piece.bars {
        let bar_chart = "#".repeat(bar.notes);
        println!(
            "bar {:>3} {:>5.2} notes/quarter {bar_chart}",
            bar.bar + 1,
            bar.notes_per_quarter
        );
    }
    Ok(())
}
