#!/usr/bin/env bash
# The whole test suite, from a fresh machine: system packages, the outside MIDI readers,
# formatting, lints, every test, and a short smoke run of each fuzz target.
#
# Usage: scripts/test.sh            (set CARGO_TARGET_DIR to keep builds elsewhere)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# Debian packages: ALSA headers for the audio crates, lavapipe (Vulkan on the CPU) so the
# wgpu path is tested without a GPU, FluidSynth and the public-domain GM SoundFont
# (sf_GMbank.sf2) that the synthesizer's tests compare against. Installed only when missing.
packages=(pkg-config libasound2-dev mesa-vulkan-drivers fluidsynth csound-soundfont)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

step "rust components"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

step "outside MIDI readers (@tonejs/midi, mido)"
bash scripts/setup-interop.sh

step "cargo fmt --check"
cargo fmt --all --check

# Every feature on (the plugin's `render`: models on Bevy's render device, tested on
# lavapipe; `kira_audio_source`; `demo`: the windowed example is linted and built), so Bevy
# is built once, with its renderer.
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo test"
cargo test --workspace --all-features --locked

step "fuzz smoke (cargo fuzz, no sanitizer)"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
fuzz_target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
for target in midi_read json_read; do
    corpus=$(mktemp -d)
    log=$(mktemp)
    if ! cargo fuzz run -s none --target-dir "$fuzz_target_dir" "$target" "$corpus" \
        "fuzz/seeds/$target" -- -runs=30000 -max_len=65536 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz target $target failed" >&2
        exit 1
    fi
    echo "$target: $(grep -E '^Done' "$log")"
    rm -rf "$corpus" "$log"
done

step "all checks passed"
