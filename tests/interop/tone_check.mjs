#!/usr/bin/env node
// tone_check.mjs — compare Leitmotif's X.tone.json with what @tonejs/midi reads from X.mid.
//
// Usage:  node tests/interop/tone_check.mjs DIR
//
// For every `X.mid` directly inside DIR (not recursive) that has a sibling
// `X.tone.json`, the MIDI file is parsed with `new Midi(bytes)` from
// @tonejs/midi 2.0.28 and `midi.toJSON()` is compared with X.tone.json, which
// Leitmotif writes and which must be field-for-field what toJSON() returns.
// toJSON()'s result is normalised with JSON.parse(JSON.stringify(...)), i.e.
// compared the way it would look serialised (a field whose value is
// `undefined`, e.g. instrument.name of an unknown drum kit, is absent).
//
// Compared: every object's key SET must be identical (no missing, no extra
// fields) at every level; every value is compared exactly except
//   bpm, measures          relative 1e-9
//   velocity, value        absolute 1e-9
//   time, duration         absolute 1e-6 (seconds)
// That covers header.{ppq,name,tempos,timeSignatures,keySignatures,meta},
// the track count and, per track, name, channel, instrument, endOfTrackTicks,
// controlChanges, pitchBends and the notes (midi, name, ticks, durationTicks,
// velocity, time, duration).
//
// Module resolution (robust, no NODE_PATH needed): @tonejs/midi is loaded with
// createRequire() anchored at <repo>/.interop/node/ (the npm prefix used by
// scripts/setup-interop.sh), where <repo> is found relative to this file
// (tests/interop/ -> ../..). The env var LEITMOTIF_INTEROP_DIR overrides the
// `.interop` folder. If that fails, a plain require() relative to this file is
// tried, which also honours NODE_PATH (e.g. NODE_PATH=<repo>/.interop/node/node_modules).
// The CommonJS entry (build/Midi.js, a self-contained bundle incl. midi-file)
// is what gets loaded.
//
// Output: one line per mismatch `FILE: PATH: ours=... tonejs=...` (at most 20
// per file, the rest counted), then `tonejs: N files checked, M mismatches`.
// Exit status: 0 all good; 1 any mismatch or zero files checked; 2 usage/setup error.

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import path from "node:path";

const MAX_LINES_PER_FILE = 20;
const EXPECTED_VERSION = "2.0.28";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..");
const interopDir = process.env.LEITMOTIF_INTEROP_DIR
  ? path.resolve(process.env.LEITMOTIF_INTEROP_DIR)
  : path.join(repoRoot, ".interop");

function loadTone() {
  const anchors = [
    path.join(interopDir, "node", "package.json"),
    fileURLToPath(import.meta.url),
  ];
  const errors = [];
  for (const anchor of anchors) {
    try {
      const req = createRequire(anchor);
      const mod = req("@tonejs/midi");
      let version = "unknown";
      try {
        version = req("@tonejs/midi/package.json").version;
      } catch (_) {
        /* exports map may forbid it; fine */
      }
      return { Midi: mod.Midi, version };
    } catch (e) {
      errors.push(`  from ${anchor}: ${e.message.split("\n")[0]}`);
    }
  }
  console.error(
    "tone_check: cannot load @tonejs/midi; run scripts/setup-interop.sh first.\n" + errors.join("\n")
  );
  process.exit(2);
}

// Tolerances by field name.
const REL = { bpm: 1e-9, measures: 1e-9 };
const ABS = { velocity: 1e-9, value: 1e-9, time: 1e-6, duration: 1e-6 };

function numbersMatch(key, ours, theirs) {
  if (ours === theirs) return true;
  if (!Number.isFinite(ours) || !Number.isFinite(theirs)) return false;
  if (key in REL) {
    const scale = Math.max(Math.abs(ours), Math.abs(theirs));
    return Math.abs(ours - theirs) <= REL[key] * scale || Math.abs(ours - theirs) <= 1e-12;
  }
  if (key in ABS) return Math.abs(ours - theirs) <= ABS[key];
  return false;
}

const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const show = (v) => (v === undefined ? "<absent>" : JSON.stringify(v));
const kind = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

// Deep compare; `report(path, message)` is called for each mismatch.
function compare(ours, theirs, p, key, report) {
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    // (the track count is reported once, with names, by main())
    if (ours.length !== theirs.length && p !== "tracks") {
      report(`${p}.length`, `ours=${ours.length} tonejs=${theirs.length}`);
    }
    const n = Math.min(ours.length, theirs.length);
    for (let i = 0; i < n; i++) compare(ours[i], theirs[i], `${p}[${i}]`, key, report);
    return;
  }
  if (isPlainObject(ours) && isPlainObject(theirs)) {
    const ok = Object.keys(ours);
    const tk = Object.keys(theirs);
    const missing = tk.filter((k) => !(k in ours)).sort();
    const extra = ok.filter((k) => !(k in theirs)).sort();
    if (missing.length || extra.length) {
      report(
        `${p || "<root>"}`,
        `key sets differ: missing in ours ${JSON.stringify(missing)}, extra in ours ${JSON.stringify(extra)}`
      );
    }
    for (const k of tk.sort()) {
      if (k in ours) compare(ours[k], theirs[k], p ? `${p}.${k}` : k, k, report);
    }
    return;
  }
  if (typeof ours === "number" && typeof theirs === "number") {
    if (!numbersMatch(key, ours, theirs)) report(p, `ours=${show(ours)} tonejs=${show(theirs)}`);
    return;
  }
  if (kind(ours) !== kind(theirs) || ours !== theirs) {
    report(p, `ours=${show(ours)} tonejs=${show(theirs)}`);
  }
}

function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1 || args[0] === "-h" || args[0] === "--help") {
    console.error("usage: node tests/interop/tone_check.mjs DIR");
    process.exit(2);
  }
  const dir = args[0];
  let entries;
  try {
    entries = fs.readdirSync(dir);
  } catch (e) {
    console.error(`tone_check: cannot read directory ${dir}: ${e.message}`);
    process.exit(2);
  }
  const { Midi, version } = loadTone();
  if (version !== EXPECTED_VERSION) {
    console.error(`tone_check: warning: @tonejs/midi version ${version}, expected ${EXPECTED_VERSION}`);
  }

  let checked = 0;
  let mismatches = 0;
  for (const name of entries.filter((n) => n.endsWith(".mid")).sort()) {
    const stem = name.slice(0, -".mid".length);
    const jsonPath = path.join(dir, `${stem}.tone.json`);
    if (!fs.existsSync(jsonPath)) continue;
    const midPath = path.join(dir, name);
    checked++;

    let fileCount = 0;
    const report = (p, msg) => {
      fileCount++;
      if (fileCount <= MAX_LINES_PER_FILE) console.log(`${midPath}: ${p}: ${msg}`);
    };

    let ours = null;
    let theirs = null;
    try {
      ours = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
    } catch (e) {
      report("<tone.json>", `cannot parse ${jsonPath}: ${e.message}`);
    }
    try {
      const bytes = new Uint8Array(fs.readFileSync(midPath));
      theirs = JSON.parse(JSON.stringify(new Midi(bytes).toJSON()));
    } catch (e) {
      report("<midi>", `@tonejs/midi failed to read the file: ${e && e.message ? e.message : e}`);
    }
    if (ours !== null && theirs !== null) {
      if (isPlainObject(ours) && isPlainObject(theirs) && Array.isArray(ours.tracks) && Array.isArray(theirs.tracks)
          && ours.tracks.length !== theirs.tracks.length) {
        report("tracks", `track count differs: ours=${ours.tracks.length} tonejs=${theirs.tracks.length} ` +
          `(tonejs names: ${JSON.stringify(theirs.tracks.map((t) => t.name))})`);
      }
      compare(ours, theirs, "", "", report);
    }
    if (fileCount > MAX_LINES_PER_FILE) {
      console.log(`${midPath}: ... ${fileCount - MAX_LINES_PER_FILE} more mismatches not shown`);
    }
    mismatches += fileCount;
  }

  console.log(`tonejs: ${checked} files checked, ${mismatches} mismatches`);
  if (checked === 0) {
    console.log(`tonejs: no X.mid with a sibling X.tone.json found in ${dir}`);
  }
  process.exit(mismatches > 0 || checked === 0 ? 1 : 0);
}

main();
