# The two commands the README gives. Both set everything up first (cached after the first run).
.PHONY: demo test setup setup-dev lint

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

# Show a real completion from the default offline model.
demo: setup
	.venv/bin/fim-lsp complete examples/stats.py --line 12 --col 5

# Unit tests, golden post-processing cases, and end-to-end tests over stdio with the real model.
test: setup-dev
	.venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check lsp_server tests
	.venv/bin/mypy lsp_server
