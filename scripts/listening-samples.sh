#!/usr/bin/env bash
# Writes the listening sample set under assets/examples/listening/ with the embedded
# default models on the CPU backend (deterministic: same commands, same files).
set -euo pipefail
cd "$(dirname "$0")/.."
out=assets/examples/listening
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo build --locked -q -p leitmotif_cli
bin=target/debug/leitmotif
[ -n "${CARGO_TARGET_DIR:-}" ] && bin=$CARGO_TARGET_DIR/debug/leitmotif
gen() { local name=$1; shift; "$bin" "$@" --backend cpu -o "$tmp/$name"; cp "$tmp/$name.mid" "$out/$name.mid"; }
gen dungeon_chase generate "tense dungeon chase in D minor, 150 bpm" --bars 16 --intensity 0.5..0.95 --seed 7
gen village_loop generate "calm village loop in 6/8 with harp" --bars 8 --seed 3
gen heroic_march generate "heroic march in Bb with drums" --bars 8 --seed 2026
gen eerie_cave generate "eerie cave in E phrygian, slow" --bars 8 --intensity 0.2 --seed 11
gen playful_reel generate "playful reel in G with bass" --model rnn --bars 8 --seed 5
gen sad_chorale generate "sad chorale in A minor" --layers melody,bass --density 0.2 --bars 8 --seed 4
gen boss_ramp generate "epic boss fight in C minor, 160 bpm" --bars 16 --intensity 0.2..1 --seed 9
gen valley_continued continue assets/examples/folk_the_enchanted_valley.mid --bars 8 --layers melody,bass,chords --seed 1
gen chorale_infill infill assets/examples/chorale_bwv_101_7.mid --bars 5..8 --layer melody --seed 2
