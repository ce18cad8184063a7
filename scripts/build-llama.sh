#!/usr/bin/env bash
# Build llama.cpp once (shared libraries + llama-server) from the sources vendored in the
# llama-cpp-python sdist we pin, and cache the result outside the repository.
#
# Why: building llama-cpp-python from source takes ~20 min on 2 cores, and llama-server as long
# again. Building the vendored llama.cpp once gives both; llama-cpp-python is then installed
# with -DLLAMA_BUILD=OFF and pointed at these libraries.
#
# Prints the install prefix (with lib/ and bin/) on stdout; progress goes to stderr.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE_ROOT="${FIM_LSP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fim-lsp}"
JOBS="${JOBS:-$(nproc)}"
# GGML_NATIVE tunes for this CPU, so the cache key includes the CPU flags and this recipe.
# AMX is switched off: CPUs in VMs advertise amx_tile but the kernel may not grant tile state,
# and ggml's AMX kernels then die with SIGILL (seen here on a Xeon VM).
NATIVE_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
if ! echo 'int main(void){return 0;}' | cc $NATIVE_FLAGS -x c -o /dev/null - 2>/dev/null; then
  NATIVE_FLAGS=""
fi
recipe="native;$NATIVE_FLAGS;${LLAMA_CMAKE_ARGS:-}"
cpu_key=$( ( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m); echo "$recipe") | sha256sum | cut -c1-12)
prefix="$CACHE_ROOT/llama.cpp/$LLAMA_CPP_PYTHON_VERSION-$cpu_key"

if [[ -f "$prefix/.complete" ]]; then
  echo "llama.cpp: cached build at $prefix" >&2
  echo "$prefix"
  exit 0
fi

work="$CACHE_ROOT/build/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION"
mkdir -p "$work"
sdist="$work/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
if [[ ! -f "$sdist" ]]; then
  echo "llama.cpp: downloading llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist" >&2
  python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work" \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2
fi
src="$work/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"
[[ -d "$src/vendor/llama.cpp" ]] || tar -xzf "$sdist" -C "$work"

echo "llama.cpp: configuring (cmake, $JOBS jobs; ~20-40 min on 2 cores, once)" >&2
cmake -S "$src/vendor/llama.cpp" -B "$work/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$NATIVE_FLAGS" -DCMAKE_CXX_FLAGS="$NATIVE_FLAGS" \
  -DBUILD_SHARED_LIBS=ON \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_INSTALL_RPATH='$ORIGIN/../lib:$ORIGIN' \
  -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  ${LLAMA_CMAKE_ARGS:-} >&2

echo "llama.cpp: building libllama, llama-server, llama-bench" >&2
cmake --build "$work/build" --config Release -j "$JOBS" \
  --target llama llama-server llama-bench >&2

mkdir -p "$prefix/lib" "$prefix/bin"
find "$work/build" -name '*.so*' \( -type f -o -type l \) -exec cp -P {} "$prefix/lib/" \;
cp "$work/build/bin/llama-server" "$work/build/bin/llama-bench" "$prefix/bin/"
touch "$prefix/.complete"
echo "llama.cpp: installed to $prefix" >&2
echo "$prefix"
