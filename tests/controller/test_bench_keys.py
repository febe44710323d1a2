"""The bench's key choice: locality is the share of a zone's writes on its own zone's keys,
conflict the share on that zone's hot key; names follow the zones contract (z<zone>-...)."""

import random

import pytest

from controller.bench_keys import OWN_KEYS, home_zone, pick_key


def draw(n: int = 20_000, **kw) -> list[str]:
    rng = random.Random(4)
    return [pick_key(rng, 7, i, **kw) for i in range(n)]


@pytest.mark.parametrize("locality", [0.0, 0.5, 0.9, 1.0])
def test_locality_is_the_share_on_the_clients_own_zone(locality):
    keys = draw(conflict=0.0, zone=1, zones=3, locality=locality)
    homes = [home_zone(k) for k in keys]
    own = homes.count(1) / len(homes)
    assert abs(own - locality) < 0.015
    # the rest spread evenly over the other zones
    if locality < 1:
        assert abs(homes.count(0) - homes.count(2)) / len(homes) < 0.02


def test_no_locality_spreads_over_every_zone_alike():
    homes = [home_zone(k) for k in draw(conflict=0.0, zone=0, zones=3, locality=None)]
    for z in range(3):
        assert abs(homes.count(z) / len(homes) - 1 / 3) < 0.015


def test_conflict_is_the_share_on_the_zones_hot_key_and_the_rest_the_workers_own():
    keys = draw(conflict=0.3, zone=2, zones=3, locality=1.0)
    hot = [k for k in keys if k == "z2-hot"]
    assert abs(len(hot) / len(keys) - 0.3) < 0.015
    cold = [k for k in keys if k != "z2-hot"]
    # the worker's own few keys, used again and again (no other worker writes them)
    assert set(cold) == {f"z2-c2-{k}" for k in range(OWN_KEYS)}  # worker 7 of 3 zones: seat 2


def test_without_zones_the_names_have_no_home():
    keys = draw(n=1000, conflict=0.5)
    assert {home_zone(k) for k in keys} == {None}
    assert "hot" in keys and all(k == "hot" or k.startswith("w7-") for k in keys)


def test_home_zone_reads_the_contracts_names():
    assert home_zone("z1-k7") == 1 and home_zone("z12-hot") == 12
    assert home_zone("k7") is None and home_zone("zz-1") is None and home_zone("z1") is None
