"""Engines that talk to an inference server over HTTP.

The shared plumbing, bottom up: `retry` (connect retries), `watch` (abort a blocked stream on
cancel or time out), `transport` (the httpx client and its errors), `stream` (event formats and
the per-chunk loop), `gate` (one report per outage), `base` (the `RemoteEngine` skeleton). Each
backend module (`llama_server`, `openai_compat`, `ollama`) only maps a `GenerationJob` to a
request and a streamed event back to a `Chunk`.
"""
