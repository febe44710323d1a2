"""The system under test: a Multi-Paxos replicated key-value store (standard library only)."""
