#!/usr/bin/env bash
# Installs the third-party MIDI readers used by the interop checkers in
# tests/interop/ into the git-ignored folder <repo>/.interop/:
#   .interop/node  : npm prefix with @tonejs/midi@2.0.28 (own package.json/lock)
#   .interop/venv  : Python venv with mido==1.3.3
# Idempotent: each part is skipped when the pinned version is already there.
# Needs node, npm and python3 (with the venv module) on PATH, and access to the
# npm and PyPI registries for the first run.
#
# Usage: scripts/setup-interop.sh
set -euo pipefail

TONEJS_VERSION="2.0.28"
MIDO_VERSION="1.3.3"

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
INTEROP="$REPO_ROOT/.interop"
NODE_DIR="$INTEROP/node"
VENV_DIR="$INTEROP/venv"

die() { echo "setup-interop: error: $*" >&2; exit 1; }
log() { echo "setup-interop: $*"; }

for tool in node npm python3; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH; please install it (node >= 14, npm, python3 >= 3.8)"
done

mkdir -p "$NODE_DIR"

# --- (a) @tonejs/midi -------------------------------------------------------
tonejs_installed_version() {
    local pj="$NODE_DIR/node_modules/@tonejs/midi/package.json"
    [[ -f "$pj" ]] || return 0
    node -e 'try{process.stdout.write(String(require(process.argv[1]).version))}catch(e){}' "$pj"
}

if [[ "$(tonejs_installed_version)" == "$TONEJS_VERSION" ]]; then
    log "@tonejs/midi@$TONEJS_VERSION already installed in .interop/node"
else
    if [[ ! -f "$NODE_DIR/package.json" ]]; then
        # A private package.json keeps npm from walking up to the repo root.
        cat > "$NODE_DIR/package.json" <<JSON
{
  "name": "leitmotif-interop",
  "private": true,
  "description": "Third-party MIDI readers for Leitmotif interop tests (installed by scripts/setup-interop.sh)"
}
JSON
    fi
    log "installing @tonejs/midi@$TONEJS_VERSION into .interop/node"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --save-exact "@tonejs/midi@$TONEJS_VERSION"
    [[ "$(tonejs_installed_version)" == "$TONEJS_VERSION" ]] \
        || die "@tonejs/midi@$TONEJS_VERSION is not in $NODE_DIR/node_modules after npm install"
fi

# --- (b) Python venv with mido ----------------------------------------------
VENV_PY="$VENV_DIR/bin/python"

mido_installed_version() {
    [[ -x "$VENV_PY" ]] || return 0
    "$VENV_PY" -c 'import importlib.metadata as m; print(m.version("mido"), end="")' 2>/dev/null || true
}

if [[ ! -x "$VENV_PY" ]]; then
    log "creating Python venv in .interop/venv"
    python3 -m venv "$VENV_DIR" \
        || die "python3 -m venv failed (on Debian/Ubuntu install the python3-venv package)"
fi

if [[ "$(mido_installed_version)" == "$MIDO_VERSION" ]]; then
    log "mido==$MIDO_VERSION already installed in .interop/venv"
else
    log "installing mido==$MIDO_VERSION into .interop/venv"
    "$VENV_PY" -m pip install --disable-pip-version-check --quiet "mido==$MIDO_VERSION"
    [[ "$(mido_installed_version)" == "$MIDO_VERSION" ]] \
        || die "mido==$MIDO_VERSION is not importable from $VENV_PY after pip install"
fi

log "ready: node modules in .interop/node/node_modules, python at .interop/venv/bin/python"
