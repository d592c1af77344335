#!/usr/bin/env bash
# Creates the git-ignored virtualenv <repo>/.venv-torch with the pinned packages of
# scripts/torch-requirements.txt (PyTorch, for scripts/torch_reference.py).
# Idempotent: does nothing when every pinned version is already installed.
# Needs python3 (>= 3.10, with the venv module) and, on the first run, access to PyPI
# (about 5 GB: PyPI's Linux torch wheel pulls in the CUDA libraries).
#
# Usage: scripts/setup-torch.sh
#        then: .venv-torch/bin/python scripts/torch_reference.py --help
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
VENV_DIR="$REPO_ROOT/.venv-torch"
VENV_PY="$VENV_DIR/bin/python"
REQUIREMENTS="$SCRIPT_DIR/torch-requirements.txt"

die() { echo "setup-torch: error: $*" >&2; exit 1; }
log() { echo "setup-torch: $*"; }

command -v python3 >/dev/null 2>&1 || die "'python3' not found on PATH"

# Whether every 'name==version' line of the requirements is installed in the venv.
pinned_installed() {
    [[ -x "$VENV_PY" ]] || return 1
    "$VENV_PY" - "$REQUIREMENTS" <<'PY'
import importlib.metadata as metadata
import sys

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    try:
        if metadata.version(name) != version:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
PY
}

if pinned_installed; then
    log "pinned packages already installed in .venv-torch"
    exit 0
fi

if [[ ! -x "$VENV_PY" ]]; then
    log "creating Python venv in .venv-torch"
    python3 -m venv "$VENV_DIR" \
        || die "python3 -m venv failed (on Debian/Ubuntu install the python3-venv package)"
fi

log "installing $(grep -v '^#' "$REQUIREMENTS" | xargs) into .venv-torch"
"$VENV_PY" -m pip install --disable-pip-version-check --quiet -r "$REQUIREMENTS"
pinned_installed || die "pinned packages are not all installed in .venv-torch after pip install"
"$VENV_PY" -c 'import torch; print("setup-torch: torch", torch.__version__, "ready at .venv-torch/bin/python")'
