"""etcd in the node image: a short run on containers under a partition, and its weak
reads found there. Container tier (the image build installs Debian's etcd-server).

PAXLAB_ETCD_IMAGE names another image with etcd to run them against (a developer's test
build); by default the node image, built or found current by the session fixture."""

from __future__ import annotations

import os

import pytest

from controller.run import run_test
from controller.spec import TestSpec

pytestmark = [pytest.mark.docker, pytest.mark.timeout(400)]


@pytest.fixture
def etcd_image(request):
    name = os.environ.get("PAXLAB_ETCD_IMAGE")
    return name or request.getfixturevalue("node_image")


def _spec(image: str, **kw) -> TestSpec:
    base = dict(
        workload="register",
        nemesis=["partition"],
        nodes=3,
        concurrency=10,
        time_limit=10.0,
        rate=100.0,
        nemesis_interval=2.0,
        backend="docker",
        backend_opts={"image": image},
        target="etcd",
        seed=1,
        recovery_time=15.0,
        final_time_limit=15.0,
    )
    return TestSpec(**{**base, **kw}).validate()


def test_a_short_etcd_run_on_containers_is_valid_and_ran_etcd(etcd_image, tmp_path):
    out = run_test(_spec(etcd_image), results_root=tmp_path, progress=False, report=False)
    assert out.valid is True, out.results
    log = (out.run_dir / "nodes" / "n1" / "store.log").read_text()
    assert "exec etcd --name=n1" in log


def test_serializable_reads_on_containers_are_found_within_the_budget(etcd_image, tmp_path):
    verdicts = []
    for seed in range(1, 9):  # the validate budget: 8 runs
        spec = _spec(etcd_image, seed=seed, target_opts={"read": "serializable"})
        out = run_test(spec, results_root=tmp_path, progress=False, report=False)
        verdicts.append(out.valid)
        if out.valid is False:
            break
    assert verdicts[-1] is False, verdicts
