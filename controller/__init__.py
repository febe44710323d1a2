"""A test run: spec, generators, workers, history, results store, CLI, report server."""
