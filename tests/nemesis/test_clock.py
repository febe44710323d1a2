"""The clock nemesis: the size of its jumps, whom it skews, and what rate-split requires."""

from __future__ import annotations

import random
import statistics

from controller.virtual_loop import run_virtual
from nemesis.clock import MAX_BUMP_S, MIN_BUMP_S, ClockNemesis, bump_offset
from tests.support.fakes import fault_context, started


def test_bump_offsets_span_milliseconds_to_minutes_in_both_directions():
    rng = random.Random(7)
    offs = [bump_offset(rng) for _ in range(2000)]
    mags = [abs(o) for o in offs]
    assert all(MIN_BUMP_S - 1e-9 <= m <= MAX_BUMP_S for m in mags)
    assert 0.35 < sum(o > 0 for o in offs) / len(offs) < 0.65
    # log-uniform: as many jumps below a second as above (the geometric middle is 1.2 s)
    assert 0.3 < statistics.median(mags) < 5.0
    assert min(mags) < 0.05 and max(mags) > 60


def test_bump_skews_a_minority_and_stop_resets_every_clock():
    c = started(5)
    nem, fx = ClockNemesis(["bump"]), fault_context(c, 3)
    for _ in range(10):
        out = run_virtual(nem.start("bump", fx))
        assert 1 <= len(out["nodes"]) <= 2 and c.offsets == out["offsets"]
        assert run_virtual(nem.stop(fx)) == {"reset": "clocks"}
        assert c.offsets == {}


def test_rate_split_needs_clock_rates_and_is_only_run_when_named():
    assert "rate-split" not in ClockNemesis().kinds
    assert ClockNemesis().requires({"clock"}) == {"clock"}
    assert ClockNemesis(["rate-split"]).requires({"clock"}) == {"clock", "clock-rate"}
