"""Examples that ship with paxlab (importable from the repository root)."""
