"""Every catalogue bug: the report of an invalid simulated run opens its message diagram on
the anomaly, and the anomaly section links to the stories of its operations' slots."""

from __future__ import annotations

import pytest

from controller.explain import SHRUNK, entry
from tests.support.lamport import invalid_bug_run, lamport_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize("bug", sorted(SHRUNK))
def test_an_invalid_run_of_each_bug_shows_its_diagram_around_the_anomaly(bug, tmp_path):
    run = invalid_bug_run(bug, tmp_path)
    assert (run / "messages.jsonl").stat().st_size > 0
    report = run / "report.html"
    data = lamport_of(report)
    page = report.read_text()
    lo, hi = data["view"]
    m = data["msgs"]
    in_view = [k for k, s in enumerate(m["s"]) if lo <= s <= hi]
    assert in_view, "no message in the default view"
    question = ([data["failing"]] if data["failing"] is not None else []) + data["marked"]
    ops = {o[5]: o for o in data["ops"]}
    if question:  # the view opens on the first operation in question
        first = next(ops[i] for i in question if i in ops)
        assert lo <= first[1] and first[2] <= hi
        if entry(bug).mode not in ("epaxos", "wpaxos"):  # instances per replica or logs per key
            assert 'id="anomaly-slots"' in page and 'href="#slot-' in page
    else:  # an anomaly without operations (the simulator's invariants): the run's start
        assert lo <= m["s"][0] <= hi
    assert f'id="bug-{bug}"' in page and "has_bug" in page  # its explanation, marked lines
