"""History analysis: linearizability, sets, stats, perf, timeline. Depends only on the history format."""
