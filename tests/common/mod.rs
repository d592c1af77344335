//! Helpers shared by the integration tests: where the training data is, and samples of it.

use std::path::{Path, PathBuf};

/// The package's folder, read at run time (cargo sets it for tests): a test binary built in
/// another checkout sharing the target folder must still read this checkout's files.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The training-data folder: `$LEITMOTIF_DATA`, or `../shared/data` beside the checkout.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("LEITMOTIF_DATA")
        .map_or_else(|| manifest_dir().join("../shared/data"), PathBuf::from);
    assert!(
        dir.join("melody").is_dir() && dir.join("parts").is_dir(),
        "training data not found at {} (set LEITMOTIF_DATA to the data folder)",
        dir.display()
    );
    dir
}

/// Every .mid file under `dir`, sorted, so samples are the same on every machine.
pub fn midi_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "mid") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// About `count` files spread evenly over the whole sorted list (every collection is hit).
pub fn sample(files: &[PathBuf], count: usize) -> Vec<PathBuf> {
    let step = (files.len() / count.max(1)).max(1);
    files.iter().step_by(step).cloned().collect()
}
