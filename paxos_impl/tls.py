"""Mutual TLS between peers and from clients, with the node id carried by the certificate.

Why: without it, anyone who reaches a peer port can say ``{"type": "hello", "from": 1}``
and be believed: a forged ``snapshot`` replaces the data, a forged ``prepare`` pushes the
ballot out of reach. With TLS on, every connection is authenticated against the cluster's
own CA (made per cluster by ``cluster.certs``, never a public one), and a peer connection
is kept only when the certificate *names the node id its hello claims*. Identity is the
subject common name ``paxlab-node-<ID>`` (clients: ``paxlab-client``); host names are not
checked, since the id, not the address, is what the protocol trusts.

Standard library only (``ssl``): this module runs inside the node image.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE_CN = "paxlab-node-{id}"
CLIENT_CN = "paxlab-client"
_NODE_CN_RE = re.compile(r"^paxlab-node-(\d{1,6})$")


class TlsError(ValueError):
    """TLS cannot be set up or a certificate is not acceptable; one line for a person."""


@dataclass
class TlsSettings:
    """The ``[tls]`` table of a cluster config. Paths may contain ``{id}`` (the node id).

    ``cert``/``key`` are what a node presents (to peers and clients); ``client_cert``/
    ``client_key`` what a client presents. A host-side client config needs only ``ca`` and
    the client pair; a node config needs ``ca`` and the node pair.
    """

    enabled: bool = False
    ca: str = ""
    cert: str = ""
    key: str = ""
    client_cert: str = ""
    client_key: str = ""
    require_client_cert: bool = True

    def validate(self) -> None:
        if self.enabled and not self.ca:
            raise TlsError("tls.enabled needs tls.ca (the cluster CA certificate)")

    def node_pair(self, node_id: int) -> tuple[str, str]:
        if not (self.cert and self.key):
            raise TlsError("tls is on but tls.cert / tls.key (this node's pair) are not set")
        return self.cert.format(id=node_id), self.key.format(id=node_id)


def _context(purpose: ssl.Purpose, ca: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(
        ssl.PROTOCOL_TLS_SERVER if purpose is ssl.Purpose.CLIENT_AUTH else ssl.PROTOCOL_TLS_CLIENT
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False  # identity is the node id in the certificate, checked by us
    try:
        ctx.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as e:
        raise TlsError(f"cannot load the TLS CA {ca}: {_why(e)}") from None
    return ctx


def _load_pair(ctx: ssl.SSLContext, cert: str, key: str) -> None:
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise TlsError(f"cannot load the TLS certificate {cert} / key {key}: {_why(e)}") from None


def _why(e: BaseException) -> str:
    return getattr(e, "strerror", None) or getattr(e, "reason", None) or str(e) or repr(e)


def peer_server_context(s: TlsSettings, node_id: int) -> ssl.SSLContext:
    """The peer port: the node's pair, and a certificate from every connecting peer."""
    ctx = _context(ssl.Purpose.CLIENT_AUTH, s.ca)
    _load_pair(ctx, *s.node_pair(node_id))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_server_context(s: TlsSettings, node_id: int) -> ssl.SSLContext:
    """The client port: the node's pair; a client certificate if ``require_client_cert``."""
    ctx = _context(ssl.Purpose.CLIENT_AUTH, s.ca)
    _load_pair(ctx, *s.node_pair(node_id))
    ctx.verify_mode = ssl.CERT_REQUIRED if s.require_client_cert else ssl.CERT_NONE
    return ctx


def peer_client_context(s: TlsSettings, node_id: int) -> ssl.SSLContext:
    """A node's outbound link to a peer: presents the node's own pair."""
    ctx = _context(ssl.Purpose.SERVER_AUTH, s.ca)
    _load_pair(ctx, *s.node_pair(node_id))
    return ctx


def client_context(s: TlsSettings) -> ssl.SSLContext:
    """What a client uses: verifies the node against the CA, presents the client pair."""
    ctx = _context(ssl.Purpose.SERVER_AUTH, s.ca)
    if s.client_cert:
        _load_pair(ctx, s.client_cert, s.client_key or s.client_cert)
    return ctx


def common_name(cert: dict[str, Any] | None) -> str | None:
    """The subject CN of a certificate as ``SSLSocket.getpeercert()`` returns it."""
    for rdn in (cert or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


def node_id_of(cert: dict[str, Any] | None) -> int | None:
    """The node id a (verified) certificate names, or None when it names no node."""
    m = _NODE_CN_RE.match(common_name(cert) or "")
    return int(m.group(1)) if m else None


def check_node(ssl_object: Any, claimed: int) -> None:
    """Raise TlsError unless the connection's verified certificate names node ``claimed``.

    ``ssl_object`` is an ``ssl.SSLObject``/``SSLSocket`` (None: the connection is not TLS,
    which on a TLS port cannot happen and is refused all the same)."""
    cert = ssl_object.getpeercert() if ssl_object is not None else None
    if not cert:
        raise TlsError(f"no verified certificate; claimed to be node {claimed}")
    named = node_id_of(cert)
    if named != claimed:
        who = f"node {named}" if named is not None else repr(common_name(cert))
        raise TlsError(f"certificate names {who}, not node {claimed}")


def describe(s: TlsSettings) -> str:
    """One phrase for the start-up line."""
    if not s.enabled:
        return "TLS off"
    clients = "required" if s.require_client_cert else "optional"
    return f"mutual TLS (CA {Path(s.ca).name}, client certificates {clients})"
