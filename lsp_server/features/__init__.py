"""LSP glue of the features beside completion: LSP params in, plain data to the feature's
service, LSP-shaped results out. A feature does not import another."""
