# Shared set-up for scripts/demo and scripts/test: a virtual environment with the tools, and one cargo target
# directory, both outside the clone, so fresh clones on one machine reuse the build (cargo test and maturin share
# the target dir). The venv must be outside too: maturin's zig wrappers embed its path, and a new path per clone
# would change the C compiler of every -sys crate and rebuild the whole release dependency tree.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/carelake/target}"
VENV="${CARELAKE_VENV:-$HOME/.cache/carelake/venv}"
PYTHON_BIN="${PYTHON:-python3}"

if ! command -v cargo >/dev/null 2>&1; then
    echo "carelake: cargo (Rust) is needed: https://rustup.rs" >&2
    exit 1
fi

# The virtual environment is rebuilt when the requirements change.
STAMP="$VENV/.carelake-requirements"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s requirements-dev.txt "$STAMP"; then
    echo "carelake: preparing the virtual environment in $VENV" >&2
    if ! "$PYTHON_BIN" -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 without python3-venv: fall back to virtualenv from PyPI.
        "$PYTHON_BIN" -m pip install --user --quiet virtualenv
        "$PYTHON_BIN" -m virtualenv --quiet "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt
    cp requirements-dev.txt "$STAMP"
fi
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"

# The Spark engine's tests run local PySpark, which needs a Java runtime (17 or 21). A fresh Debian machine has
# none: scripts/test calls this to install Debian's headless OpenJDK 17 (as root, or through sudo when it asks no
# password). The demo runs the native engine and needs no Java.
ensure_java() {
    if command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ]; then
        return 0
    fi
    echo "carelake: installing a Java runtime for the Spark engine's tests (openjdk-17-jre-headless)" >&2
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        if sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            echo "carelake: Java 17 is needed (apt-get install openjdk-17-jre-headless) and this user cannot install it" >&2
            return 1
        fi
    fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >&2
}
