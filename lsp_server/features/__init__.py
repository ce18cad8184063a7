"""The server's features, each the LSP side of one domain package: LSP types in, plain data to
the domain, LSP types out. Features never import each other (tests/test_architecture.py)."""
