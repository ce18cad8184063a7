# The two commands the README gives. Both set everything up first (cached after the first run).
.PHONY: demo test setup setup-dev install lint bench bench-quick

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

# fim-lsp for daily use: a wheel of this checkout in its own environment, ~/.local/bin/fim-lsp.
install:
	scripts/install.sh

# Show a real completion from the default offline model.
demo: setup
	.venv/bin/fim-lsp complete examples/stats.py --line 12 --col 5

# Unit tests, golden post-processing cases, end-to-end tests over stdio with the real model,
# remote backends against a real llama-server, and the editor clients in real Neovim. The real
# VS Code suite (slower: code-server + chromium) runs when FIM_LSP_VSCODE_E2E=1, as in CI.
test: setup-dev
	editor-clients/setup-deps.sh $(if $(filter 1,$(FIM_LSP_VSCODE_E2E)),,--skip-apt --skip-vscode-e2e)
	FIM_LSP_LLAMA_SERVER=$$(scripts/build-llama.sh)/bin/llama-server .venv/bin/python -m pytest -q -rs --durations=15

# Benchmarks (bench/README.md): latency and quality next to llama-server's /infill.
bench-quick: setup-dev
	.venv/bin/python -m bench --quick

bench: setup-dev
	.venv/bin/python -m bench

lint:
	.venv/bin/ruff check lsp_server tests bench
	.venv/bin/mypy lsp_server bench
