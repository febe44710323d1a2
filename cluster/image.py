"""Build the node image without a registry: mmdebstrap a Debian trixie, import it, add a thin layer.

Why like this: no image registry is reachable here, but Debian's packages are, through the
machine's own apt configuration. So the base is a root file system made by mmdebstrap from
the mirror apt already uses (asked of apt at build time, never written into the code), turned
into an image with ``docker import`` (which has no ENV/CMD: they are set with ``--change``).
The Dockerfile in ``cluster/image/`` is then built FROM that base; the same Dockerfile
builds FROM a public base (``--base debian:trixie-slim``) where Docker can pull.

Both steps are skipped when their inputs have not changed: each image carries a content
hash of its inputs in the label ``paxlab.input-hash``. The project's own code is not an
input: it is copied into the containers at cluster setup, so a code change costs seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster.base import ClusterError

# PAXLAB_IMAGE names another tag for the node image, so two checkouts of paxlab on one
# machine (two branches under test side by side) each build and run their own code.
IMAGE = os.environ.get("PAXLAB_IMAGE") or "paxlab-node:latest"
BASE_REPO = "paxlab-node-base"
BASE_TAG = "latest"
SUITE = "trixie"
PACKAGES = (
    "python3",
    "iproute2",
    "iptables",
    "procps",
    "libfaketime",
    "openssh-server",
    "ca-certificates",
    "netbase",
    # other targets' programs (targets/*: Install.debian_packages), so one image runs them all
    "etcd-server",
)
HASH_LABEL = "paxlab.input-hash"
BASE_LABEL = "paxlab.base"  # what the node image was built FROM
IMAGE_DIR = Path(__file__).resolve().parent / "image"
# Bump when the way the base is made changes (hooks, options), so old bases are rebuilt.
RECIPE_VERSION = "1"
# Trimmed from the root file system: documentation nobody reads inside a test node.
_DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)

Log = Callable[[str], None]


class ImageError(ClusterError):
    """The node image is missing or could not be built; the message says what to do."""


def _stderr_log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# -- the engine ----------------------------------------------------------------------------
def docker_client() -> Any:
    """A connected docker SDK client, or a one-line ClusterError saying what to do."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - it is a declared dependency
        raise ClusterError("the docker Python package is missing: run `make install`") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as e:
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise ClusterError(
            "cannot reach the Docker engine "
            f"({reason}); start it (e.g. `sudo systemctl start docker`), check DOCKER_HOST, "
            "or use --backend local"
        ) from None
    return client


# -- inputs --------------------------------------------------------------------------------
def base_hash() -> str:
    """What the base root file system is made from (not where from: any mirror is the same)."""
    h = hashlib.sha256()
    for part in (RECIPE_VERSION, SUITE, _arch(), *PACKAGES, *_DPKG_EXCLUDES):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def image_hash(base: str | None = None) -> str:
    """The final image: its base (our hash, or a public image's name) and every file in image/."""
    h = hashlib.sha256()
    h.update((base or f"{BASE_REPO}:{base_hash()}").encode() + b"\0")
    for f in sorted(p for p in IMAGE_DIR.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(IMAGE_DIR)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _arch() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.uname().machine


# -- state ---------------------------------------------------------------------------------
@dataclass
class ImageStatus:
    name: str
    exists: bool
    current: bool  # exists and built from the current inputs
    label: str | None
    expected: str
    size_mb: float | None = None
    created: str | None = None

    def line(self) -> str:
        if not self.exists:
            return f"{self.name}: not built (run `make image`)"
        state = "up to date" if self.current else "out of date (inputs changed: `make image`)"
        return f"{self.name}: {state}, {self.size_mb:.0f} MB, created {self.created}"


def _get_image(client: Any, name: str) -> Any | None:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(name)
    except ImageNotFound:
        return None


def status(client: Any, base: str | None = None) -> ImageStatus:
    expected = image_hash(base)
    img = _get_image(client, IMAGE)
    if img is None:
        return ImageStatus(IMAGE, False, False, None, expected)
    label = (img.labels or {}).get(HASH_LABEL)
    return ImageStatus(
        IMAGE,
        True,
        label == expected,
        label,
        expected,
        size_mb=img.attrs.get("Size", 0) / 1e6,
        created=str(img.attrs.get("Created", ""))[:19],
    )


def public_base(client: Any) -> str | None:
    """The public base the current image was built from, None if from our mmdebstrap base."""
    img = _get_image(client, IMAGE)
    base = (img.labels or {}).get(BASE_LABEL) if img is not None else None
    return base if base and not base.startswith(BASE_REPO + ":") else None


def require_image(client: Any, name: str = IMAGE) -> None:
    """Refuse to go on without the node image (so nothing ever tries to pull it)."""
    if _get_image(client, name) is None:
        raise ImageError(f"the node image {name} is not built: run `make image` first")


# -- building ------------------------------------------------------------------------------
def build(
    client: Any, base: str | None = None, force: bool = False, log: Log = _stderr_log
) -> ImageStatus:
    """Make IMAGE current. ``base`` names a pullable public base instead of the mmdebstrap one."""
    st = status(client, base)
    if st.current and not force:
        log(f"{IMAGE} is up to date (inputs {st.expected})")
        return st
    t0 = time.monotonic()
    from_ = base if base is not None else ensure_base(client, force=force, log=log)
    _build_dockerfile(client, from_, st.expected, log)
    log(f"{IMAGE} built in {time.monotonic() - t0:.0f} s")
    if not os.environ.get("PAXLAB_IMAGE"):  # another checkout's images are not ours to drop
        _remove_stale(client, log)
    return status(client, base)


def _remove_stale(client: Any, log: Log) -> None:
    """Drop images earlier builds left behind (150 MB each) unless a container still uses one.

    They carry our ``paxlab.image`` label but no longer the current tags; the node images go
    first, since each was built on top of an old base.
    """
    from docker.errors import APIError

    current = {i.id for repo in (IMAGE, BASE_REPO) for i in client.images.list(name=repo)}
    stale = [
        i
        for i in client.images.list(all=True, filters={"label": "paxlab.image"})
        if i.id not in current
    ]
    stale.sort(key=lambda i: (i.labels or {}).get("paxlab.image") == "base")
    for img in stale:
        try:
            client.images.remove(img.id)
            log(f"removed the replaced image {img.id[7:19]}")
        except APIError:
            pass  # still used by a running cluster; a later build will try again


def ensure_base(client: Any, force: bool = False, log: Log = _stderr_log) -> str:
    """The imported mmdebstrap base, built only when its inputs changed; returns its name."""
    want = base_hash()
    name = f"{BASE_REPO}:{want}"
    img = _get_image(client, name)
    if img is not None and not force and (img.labels or {}).get(HASH_LABEL) == want:
        log(f"base {name} is up to date")
        return name
    _require_root()
    mmdebstrap = ensure_mmdebstrap(log)
    with tempfile.TemporaryDirectory(prefix="paxlab-rootfs-", dir=_scratch_dir()) as tmp:
        tar = Path(tmp) / "rootfs.tar"
        make_rootfs(mmdebstrap, tar, log)
        import_rootfs(client, tar, name, want, log)
    return name


def _scratch_dir() -> str:
    return os.environ.get("PAXLAB_BUILD_DIR") or "/var/tmp"


def _require_root() -> None:
    if os.geteuid() != 0:
        raise ImageError(
            "building the base from Debian packages needs root (mmdebstrap, apt-get): "
            "run `sudo make image`, or `paxlab image build --base debian:trixie-slim` "
            "where Docker can pull"
        )


def ensure_mmdebstrap(log: Log = _stderr_log) -> str:
    """Path of mmdebstrap, installed from the host's apt if missing (a fresh machine works)."""
    found = shutil.which("mmdebstrap")
    if found:
        return found
    if not shutil.which("apt-get"):
        raise ImageError("mmdebstrap is missing and there is no apt-get to install it")
    log("installing mmdebstrap with apt-get ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", "DPkg::Lock::Timeout=600"]
    for cmd in (
        ["apt-get", *lock, "update", "-q"],
        ["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", "mmdebstrap"],
    ):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ImageError(f"`{' '.join(cmd)}` failed: {tail}")
    found = shutil.which("mmdebstrap")
    if not found:
        raise ImageError("apt-get installed mmdebstrap but it is not on PATH")
    return found


def debian_mirrors() -> list[str]:
    """sources.list lines for SUITE, from the Debian mirrors the host's apt already uses.

    apt knows its repositories (``apt-get indextargets``); we take the Debian archive and,
    if present, the Debian security archive, and point them at SUITE. PAXLAB_DEBIAN_MIRROR
    overrides (a URL), for a machine whose apt is not Debian's.
    """
    override = os.environ.get("PAXLAB_DEBIAN_MIRROR")
    if override:
        return [f"deb {override} {SUITE} main"]
    fmt = "$(REPO_URI)\t$(LABEL)\t$(TARGET_OF)\t$(IDENTIFIER)"
    try:
        out = subprocess.run(
            ["apt-get", "indextargets", "--format", fmt],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise ImageError(
            f"cannot ask apt for its mirrors ({e}); set PAXLAB_DEBIAN_MIRROR"
        ) from None
    return mirrors_from_indextargets(out)


def mirrors_from_indextargets(out: str) -> list[str]:
    """Pick the Debian archive and security archive out of ``apt-get indextargets`` lines."""
    main: str | None = None
    security: str | None = None
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or parts[2] != "deb" or parts[3] != "Packages":
            continue
        uri, label = parts[0].rstrip("/"), parts[1]
        if label == "Debian-Security" or (not label and uri.endswith("debian-security")):
            security = security or uri
        elif label == "Debian" or (not label and uri.endswith("/debian")):
            main = main or uri
    if main is None:
        raise ImageError(
            "apt has no Debian archive configured to build the node image from; "
            "set PAXLAB_DEBIAN_MIRROR=URL of a Debian mirror"
        )
    lines = [f"deb {main} {SUITE} main", f"deb {main} {SUITE}-updates main"]
    if security:
        lines.append(f"deb {security} {SUITE}-security main")
    return lines


def _apt_proxy_options() -> list[str]:
    """Carry the host's apt proxy settings into the bootstrap, if it has any."""
    try:
        out = subprocess.run(
            ["apt-config", "dump", "Acquire"], capture_output=True, text=True
        ).stdout
    except OSError:
        return []
    opts = []
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        if "::proxy" in key.lower() and value.strip('";'):
            opts.append(f"--aptopt={key} {value}")
    return opts


def make_rootfs(mmdebstrap: str, tar: Path, log: Log = _stderr_log) -> None:
    """Run mmdebstrap, echoing its progress lines with the elapsed time."""
    mirrors = debian_mirrors()
    cmd = [
        mmdebstrap,
        "--variant=minbase",
        "--mode=root",
        "--format=tar",
        f"--include={','.join(PACKAGES)}",
        *[f"--dpkgopt={o}" for o in _DPKG_EXCLUDES],
        *_apt_proxy_options(),
        "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*.bin",
        SUITE,
        str(tar),
        *mirrors,
    ]
    log(
        f"mmdebstrap {SUITE} from: " + "; ".join(m.split()[1] + " " + m.split()[2] for m in mirrors)
    )
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if not line:
            continue
        tail = (tail + [line])[-15:]
        log(f"  [{time.monotonic() - t0:5.0f}s] {line}")
    if proc.wait() != 0:
        raise ImageError(f"mmdebstrap failed (exit {proc.returncode}): {tail[-1] if tail else ''}")


def import_rootfs(client: Any, tar: Path, name: str, input_hash: str, log: Log) -> None:
    repo, _, tag = name.partition(":")
    size = tar.stat().st_size / 1e6
    log(f"docker import of the root file system ({size:.0f} MB) as {name} ...")
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["sleep", "infinity"]',
        f"LABEL {HASH_LABEL}={input_hash}",
        "LABEL paxlab.image=base",
    ]
    client.api.import_image_from_file(str(tar), repository=repo, tag=tag, changes=changes)
    if _get_image(client, name) is None:
        raise ImageError(f"docker import did not produce {name}")
    client.images.get(name).tag(BASE_REPO, BASE_TAG)


def _build_dockerfile(client: Any, base: str, input_hash: str, log: Log) -> None:
    from docker.errors import APIError, BuildError

    log(f"building {IMAGE} from {base} with {IMAGE_DIR / 'Dockerfile'} ...")
    try:
        stream = client.api.build(
            path=str(IMAGE_DIR),
            tag=IMAGE,
            buildargs={"BASE": base},
            labels={HASH_LABEL: input_hash, "paxlab.image": "node", BASE_LABEL: base},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                raise ImageError(f"docker build failed: {chunk['error'].strip()}")
            text = chunk.get("stream", "").rstrip()
            if text:
                for line in text.splitlines():
                    log(f"  {line}")
    except (APIError, BuildError) as e:
        raise ImageError(f"docker build failed: {str(e).splitlines()[0]}") from None
