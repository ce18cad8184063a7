"""Benchmarks of fim-lsp: quality (HumanEval-infilling) and latency while typing, side by side
with llama-server's ``/infill``. Run ``python -m bench --help``."""
