"""The bundled Multi-Paxos key-value store (paxos_impl) as the suite sees it."""

from targets.bundled.target import BundledTarget

__all__ = ["BundledTarget"]
