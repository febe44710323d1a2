"""The node image: where its base comes from, when it is rebuilt, and that it is there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from cluster import image
from cluster.base import ClusterError

INDEXTARGETS = "\n".join(
    [
        "http://mirror.example/debian/\tDebian\tdeb\tPackages",
        "http://mirror.example/debian/\tDebian\tdeb\tTranslations",
        "http://mirror.example/debian-security/\tDebian-Security\tdeb\tPackages",
        "https://vendor.example/apt/\tVendor\tdeb\tPackages",
        "http://mirror.example/debian/\tDebian\tdeb-src\tSources",
    ]
)


def test_mirrors_come_from_apt_and_point_at_trixie():
    assert image.mirrors_from_indextargets(INDEXTARGETS) == [
        "deb http://mirror.example/debian trixie main",
        "deb http://mirror.example/debian trixie-updates main",
        "deb http://mirror.example/debian-security trixie-security main",
    ]


def test_mirrors_without_release_labels_fall_back_to_the_path():
    lines = "http://m.example/debian/\t\tdeb\tPackages\nhttp://o.example/other/\t\tdeb\tPackages"
    assert image.mirrors_from_indextargets(lines)[0] == "deb http://m.example/debian trixie main"


def test_no_debian_mirror_is_a_clear_error():
    with pytest.raises(ClusterError, match="PAXLAB_DEBIAN_MIRROR"):
        image.mirrors_from_indextargets("https://vendor.example/apt/\tVendor\tdeb\tPackages")


def test_mirror_override_by_environment(monkeypatch):
    monkeypatch.setenv("PAXLAB_DEBIAN_MIRROR", "http://local.example/debian")
    assert image.debian_mirrors() == ["deb http://local.example/debian trixie main"]


def test_no_host_name_is_written_into_the_build_code():
    src = (image.IMAGE_DIR.parent / "image.py").read_text()
    assert "debian.org" not in src
    assert "http://" not in src and "https://" not in src


def test_dockerfile_takes_its_base_as_an_argument_and_has_no_syntax_line():
    text = (image.IMAGE_DIR / "Dockerfile").read_text()
    assert "# syntax=" not in text
    lines = [x for x in text.splitlines() if x and not x.startswith("#")]
    assert lines[0].startswith("ARG BASE=") and lines[1] == "FROM ${BASE}"
    for pkg in image.PACKAGES:
        assert pkg in text


def test_the_hash_changes_with_the_inputs_and_only_then(tmp_path, monkeypatch):
    first = (image.base_hash(), image.image_hash())
    assert first == (image.base_hash(), image.image_hash())  # stable
    copy = tmp_path / "image"
    shutil.copytree(image.IMAGE_DIR, copy)
    monkeypatch.setattr(image, "IMAGE_DIR", copy)
    assert image.image_hash() == first[1]  # same content elsewhere: same hash
    (copy / "Dockerfile").write_text((copy / "Dockerfile").read_text() + "\n# changed\n")
    assert image.image_hash() != first[1]
    assert image.base_hash() == first[0]  # the Dockerfile is not an input of the base
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "curl"))
    assert image.base_hash() != first[0]
    assert image.image_hash("debian:trixie-slim") != image.image_hash()


def test_missing_engine_is_a_one_line_error():
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "controller.cli", "image", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "cannot reach the Docker engine" in r.stderr and "start it" in r.stderr


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_built_image_is_current_and_a_second_build_is_a_no_op(docker_client, node_image):
    st = image.status(docker_client)
    assert st.exists and st.current and st.label == image.image_hash()
    img = docker_client.images.get(node_image)
    assert img.attrs["Config"]["Cmd"] == ["sleep", "infinity"]
    assert "PYTHONPATH=/opt/paxlab" in img.attrs["Config"]["Env"]
    messages: list[str] = []
    t0 = time.monotonic()
    image.build(docker_client, log=messages.append)
    assert time.monotonic() - t0 < 10
    assert messages == [f"{image.IMAGE} is up to date (inputs {st.expected})"]
    r = subprocess.run(
        [sys.executable, "-m", "controller.cli", "image", "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "up to date" in r.stdout, (r.stdout, r.stderr)


@pytest.mark.docker
@pytest.mark.timeout(120)
def test_image_has_the_node_tools_and_multithreaded_libfaketime(docker_cluster):
    c = docker_cluster(1)
    r = c.exec(
        "n1",
        [
            "sh",
            "-c",
            "python3 --version && ip -V && iptables -V && ps --version && sshd -V 2>&1 | head -1;"
            " ls /usr/lib/*/faketime/libfaketimeMT.so.1 && cat /etc/debian_version",
        ],
    )
    assert r.ok, r.stderr
    assert "Python 3." in r.stdout and "libfaketimeMT.so.1" in r.stdout
    assert r.stdout.strip().splitlines()[-1].startswith("13")  # trixie


def test_building_the_base_without_root_says_what_to_do(monkeypatch):
    monkeypatch.setattr(image, "_get_image", lambda client, name: None)
    monkeypatch.setattr(image.os, "geteuid", lambda: 1000)
    with pytest.raises(ClusterError, match="needs root.*sudo make image.*--base"):
        image.ensure_base(client=None, log=lambda _m: None)
