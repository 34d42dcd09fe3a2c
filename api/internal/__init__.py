"""The internal API between API nodes and workers: wire format, the client API nodes use, the routes workers serve."""
