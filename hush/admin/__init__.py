"""The CLI's channel to a running server, both ends: ``client`` (what the CLI calls),
``endpoint`` (what the server answers) and ``operations`` (what either side carries out on
the store it holds)."""
