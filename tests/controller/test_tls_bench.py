"""`paxlab bench --tls`: plain and TLS rounds alternate, and the ratio is between medians."""

from __future__ import annotations

from controller import bench_tls


def test_compare_alternates_and_takes_the_ratio_of_medians():
    calls = []

    def fake(tls, **kw):
        calls.append(tls)
        ops = {False: [100.0, 300.0, 200.0], True: [50.0, 90.0, 70.0]}[tls][
            sum(1 for c in calls[:-1] if c == tls)
        ]
        return {"ops_per_s": ops, "p50_ms": 10.0 if not tls else 15.0, "p99_ms": 20.0}

    r = bench_tls.compare(fake, rounds=3, nodes=3)
    assert calls == [False, True, False, True, False, True]
    assert r["plain"]["ops_per_s"] == 200.0 and r["tls"]["ops_per_s"] == 70.0
    assert r["throughput_ratio"] == 70.0 / 200.0
    assert r["p50_ratio"] == 1.5
