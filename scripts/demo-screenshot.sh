#!/usr/bin/env bash
# Takes the README's screenshot of the `adaptive_demo` example: builds it, runs its
# scripted walk (forest, dungeon, an enemy closing in, a stinger) in a virtual X display
# (Xvfb) on Vulkan (lavapipe, Vulkan on the CPU, where there is no GPU), and writes the PNG
# once the music has answered all of it. There needs to be no sound card.
#
# Usage: scripts/demo-screenshot.sh [OUT.png]   (default: assets/docs/adaptive_demo.png)
#        (set CARGO_TARGET_DIR to keep builds elsewhere)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${1:-assets/docs/adaptive_demo.png}
# Seconds the scripted walk may take before the demo gives up (it still saves what it
# shows, and exits non-zero). Phrases are composed as the game runs, so a slow machine
# needs longer.
walk_timeout=${DEMO_TIMEOUT:-420}

step() { printf '\n==> %s\n' "$*"; }

# Debian packages: the virtual display, lavapipe, and the ALSA headers the audio crates
# build against. Installed only when missing.
packages=(xvfb mesa-vulkan-drivers pkg-config libasound2-dev)
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

# The `demo` feature (Bevy's 2D renderer, UI and window on top of the plugin) with every
# other feature of the workspace, as `scripts/test.sh` builds it: one build serves both.
step "building the demo"
cargo build --workspace --all-features --locked --example adaptive_demo
demo="${CARGO_TARGET_DIR:-target}/debug/examples/adaptive_demo"

# A free display number, and an Xvfb on it for as long as this script runs.
display=99
while [[ -e /tmp/.X${display}-lock || -e /tmp/.X11-unix/X${display} ]]; do
    display=$((display + 1))
done
step "starting Xvfb on :${display}"
Xvfb ":${display}" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    [[ -e /tmp/.X11-unix/X${display} ]] && break
    sleep 0.1
done
[[ -e /tmp/.X11-unix/X${display} ]] || { echo "Xvfb did not start on :${display}" >&2; exit 1; }

step "running the scripted walk (writes ${out})"
mkdir -p "$(dirname "$out")"
DISPLAY=":${display}" WGPU_BACKEND=vulkan \
    timeout $((walk_timeout + 120)) \
    "$demo" --screenshot "$out" --timeout "$walk_timeout"

[[ -s "$out" ]] || { echo "no screenshot at ${out}" >&2; exit 1; }
step "wrote ${out} ($(stat -c %s "$out") bytes)"
