"""etcd as a second target: Debian's etcd-server, its v3 JSON gateway, its weak reads."""

from targets.etcd.target import EtcdTarget

__all__ = ["EtcdTarget"]
