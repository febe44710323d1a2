"""The one-minute soak (issue 13): mixed load, kill -9 and pauses, and every hostile-client
attack at once on a loopback cluster; nothing acknowledged may be lost and no node may stop
on its own. It runs on loopback, but belongs to the container tier with the other long
fault runs (the 10-minute version is `python -m controller.soak --seconds 600`)."""

import pytest

from controller.soak import soak


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_one_minute_soak_loses_nothing_acknowledged(tmp_path):
    result = soak(60, None, writers=6, workdir=tmp_path, seed=7)  # free loopback ports
    assert result["lost"] == [] and result["unexpected_exits"] == [], result
    assert result["faults"] >= 5 and result["attacks"] >= 15, result  # the faults did happen
    assert result["ops"]["ok"] > 1000 and result["acknowledged_writes"] > 100, result
