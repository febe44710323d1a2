"""A cluster's own certificate authority and the certificates of its nodes and clients.

Why per cluster: a node trusts exactly the certificates signed by its cluster's CA, so a
certificate from another test cluster (or anything public) opens nothing. The node id a
certificate may speak for is its subject common name (``paxos_impl.tls``: ``paxlab-node-K``,
clients ``paxlab-client``); the store checks it against the id claimed in a peer's hello.

Generated on the controller side with ``cryptography`` (the node image stays standard
library only). EC P-256 keys: fast to make and to handshake with. The CA key is not kept
after signing: nobody can mint a new certificate for a running cluster.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, replace
from pathlib import Path

from paxos_impl.tls import CLIENT_CN, NODE_CN, TlsSettings

CA_FILE = "ca.pem"
CLIENT_CERT, CLIENT_KEY = "client.pem", "client.key"
NODE_CERT, NODE_KEY = "node{id}.pem", "node{id}.key"
VALID_DAYS = 30


@dataclass
class ClusterCerts:
    """Where one cluster's PEM files are (all in ``dir``)."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / CA_FILE

    def node_cert(self, node_id: int) -> Path:
        return self.dir / NODE_CERT.format(id=node_id)

    def node_key(self, node_id: int) -> Path:
        return self.dir / NODE_KEY.format(id=node_id)

    @property
    def client_cert(self) -> Path:
        return self.dir / CLIENT_CERT

    @property
    def client_key(self) -> Path:
        return self.dir / CLIENT_KEY

    def settings(self, remote_dir: str | None = None) -> TlsSettings:
        """The ``[tls]`` table for a config that finds these files in ``remote_dir`` (default:
        where they are on this host). Node pairs are given as ``{id}`` templates."""
        d = remote_dir if remote_dir is not None else str(self.dir)
        return TlsSettings(
            enabled=True,
            ca=f"{d}/{CA_FILE}",
            cert=f"{d}/{NODE_CERT}",
            key=f"{d}/{NODE_KEY}",
            client_cert=f"{d}/{CLIENT_CERT}",
            client_key=f"{d}/{CLIENT_KEY}",
        )

    def node_files(self, node_id: int) -> list[Path]:
        """What a node needs on its host: the CA and its own pair (not the others' keys)."""
        return [self.ca, self.node_cert(node_id), self.node_key(node_id)]


def client_only(s: TlsSettings) -> TlsSettings:
    """A host-side client config: the CA and the client pair, no node keys named."""
    return replace(s, cert="", key="")


def generate(directory: str | Path, node_ids: list[int], name: str = "paxlab") -> ClusterCerts:
    """Make a CA, one certificate per node id and one client certificate in ``directory``.

    Keys are written 0600. Returns where they are. Overwrites an earlier set (a new CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=VALID_DAYS)

    def subject(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"paxlab cluster {name}"[:64]),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = subject(f"paxlab CA {name}"[:64])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(d / CA_FILE, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def issue(cn: str, cert_path: Path, key_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject(cn))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(key_path, pem, 0o600)

    certs = ClusterCerts(d)
    for i in node_ids:
        issue(NODE_CN.format(id=i), certs.node_cert(i), certs.node_key(i))
    issue(CLIENT_CN, certs.client_cert, certs.client_key)
    return certs


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def default_dir(cluster_name: str) -> Path:
    """Where a docker or ssh cluster keeps the host-side copies: next to the client config
    that ``paxlab cluster up`` writes ($PAXLAB_HOME, default ~/.paxlab), so a client started
    later (another process) still finds them."""
    home = Path(os.environ.get("PAXLAB_HOME") or Path.home() / ".paxlab")
    return home / "tls" / cluster_name
