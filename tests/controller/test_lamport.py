"""The report's message diagram and slot stories, on traces whose answer is known by
construction, and on a real simulated run with a deliberate bug."""

from __future__ import annotations

import json

from checker.stats import digest
from controller.lamport import lamport_data, op_slots, pair_messages, process_of, slot_links
from controller.traces import read_trace, write_trace

MS = 1_000_000


def _send(mid, t, a, b, typ, slots=(), cmds=(), ballot=(1, 0)):
    return {"t": t, "clock": t / 1e9, "dir": "send", "id": mid, "from": a, "to": b,
            "type": typ, "ballot": list(ballot) if ballot else None, "slots": list(slots),
            "cmds": list(cmds), "size": 40}  # fmt: skip


def _recv(s, t):
    return {**s, "dir": "recv", "t": t}


def _trace() -> tuple[list[dict], list[dict]]:
    """Process 3 writes 1 (slot 4, chosen by n1+n2; n3's accept is lost); process 5 reads
    (slot 5). History and trace agree by construction."""
    req = _send(1, 10 * MS, "s0-p3", "n1", "request", cmds=["s0-p3:1"], ballot=None)
    acc2 = _send(2, 11 * MS, "n1", "n2", "accept", [4], ["s0-p3:1@4"])
    acc3 = _send(3, 11 * MS, "n1", "n3", "accept", [4], ["s0-p3:1@4"])  # never delivered
    ok2 = _send(4, 12 * MS, "n2", "n1", "accepted", [4])
    rep = _send(5, 13 * MS, "n1", "s0-p3", "reply", ballot=None)
    req5 = _send(6, 20 * MS, "s0-p5", "n1", "request", cmds=["s0-p5:1"], ballot=None)
    acc5 = _send(7, 21 * MS, "n1", "n2", "accept", [5], ["s0-p5:1@5"])
    trace = [req, _recv(req, 10 * MS + 500), acc2, acc3, _recv(acc2, 11 * MS + 400), ok2,
             _recv(ok2, 12 * MS + 300), rep, _recv(rep, 13 * MS + 200), req5,
             _recv(req5, 20 * MS + 100), acc5, _recv(acc5, 21 * MS + 100),
             {"t": 12 * MS + 300, "clock": 0.0, "dir": "chosen", "node": "n1", "slot": 4},
             {"t": 12 * MS + 400, "clock": 0.0, "dir": "apply", "node": "n1", "slot": 4}]  # fmt: skip
    history = [
        {"index": 0, "time": 9 * MS, "process": 3, "type": "invoke", "f": "write", "key": None, "value": 1},
        {"index": 1, "time": 19 * MS, "process": 5, "type": "invoke", "f": "read", "key": None, "value": None},
        {"index": 2, "time": 14 * MS, "process": 3, "type": "ok", "f": "write", "key": None, "value": 1},
        {"index": 3, "time": 22 * MS, "process": 5, "type": "ok", "f": "read", "key": None, "value": 1},
    ]  # fmt: skip
    history.sort(key=lambda e: e["time"])
    for k, e in enumerate(history):
        e["index"] = k
    return trace, history


def test_pairing_keeps_every_delivery_and_marks_a_lost_send():
    trace, _ = _trace()
    msgs = pair_messages(trace)
    assert len(msgs) == 7  # six deliveries and one send that never arrived
    lost = [m for m in msgs if m["recv"] is None]
    assert [(m["from"], m["to"], m["type"]) for m in lost] == [("n1", "n3", "accept")]
    assert [m["t"] for m in msgs] == sorted(m["t"] for m in msgs)
    dup = trace + [_recv(trace[2], 11 * MS + 900)]  # a duplicated accept is two arrows
    assert len(pair_messages(dup)) == 8


def test_each_operation_maps_to_the_slots_its_commands_went_into():
    trace, history = _trace()
    d = digest(history)
    got = op_slots(d.ops, pair_messages(trace))
    by_proc = {o.process: o.index for o in d.ops}
    assert got == {by_proc[3]: [4], by_proc[5]: [5]}
    assert process_of("s12-p7") == 7 and process_of("s1-p-1") == -1 and process_of("n1") is None


def test_diagram_data_has_node_and_process_lanes_and_opens_on_the_operation_in_question():
    trace, history = _trace()
    d = digest(history)
    read = next(o for o in d.ops if o.f == "read")
    data = lamport_data(d, trace, [read.index], None)
    assert data["lanes"][: data["nodes"]] == ["n1", "n2", "n3"]
    assert data["lanes"][-1] == "other clients" and data["quorum"] == 2
    lo, hi = data["view"]
    assert lo * 1000 < read.start and read.end < hi * 1000
    m = data["msgs"]
    assert m["r"].count(None) == 1 and len(m["s"]) == 7
    assert data["types"][m["y"][0]] == "request" and m["a"][0] >= data["nodes"]
    assert lamport_data(d, [], [], None) is None
    links = slot_links(op_slots(d.ops, pair_messages(trace)), [read.index], d)
    assert 'href="#slot-5"' in links and "slot-4" not in links


def test_the_trace_file_round_trips_and_skips_bad_lines(tmp_path):
    trace, _ = _trace()
    p = tmp_path / "messages.jsonl"
    assert write_trace(p, trace) == len(trace)
    with open(p, "a") as f:
        f.write("{not json\n[1]\n")
    problems: list[str] = []
    assert read_trace(p, problems) == trace
    assert problems == ["messages.jsonl: 2 unreadable line(s) skipped"]
    assert read_trace(tmp_path / "none.jsonl") == []


def test_real_nodes_traces_merge_into_one_with_each_delivery_paired_in_link_order(tmp_path):
    from controller.traces import merge_node_traces

    def rec(t, d, a, b, typ, ballot=(1, 0), slots=(3,)):
        return {"t": t, "clock": 0.0, "dir": d, "from": a, "to": b, "type": typ,
                "ballot": ballot and list(ballot), "slots": list(slots), "cmds": [], "size": 9}  # fmt: skip

    n1 = [rec(100, "send", 0, 1, "accept"), rec(101, "send", 0, 2, "accept"),
          rec(200, "send", 0, 1, "accept"), rec(400, "recv", 1, 0, "accepted")]  # fmt: skip
    n2 = [rec(150, "recv", 0, 1, "accept"), rec(250, "recv", 0, 1, "accept"),
          rec(300, "send", 1, 0, "accepted"),
          {**rec(50, "recv", "s0-p2", 1, "request", None, ()), "cmds": ["s0-p2:1"]}]  # fmt: skip
    for name, recs in (("n1", n1), ("n2", n2)):
        (tmp_path / name).mkdir()
        write_trace(tmp_path / name / "messages.jsonl", recs)
    merged = merge_node_traces(tmp_path, wall_t0_ns=40)
    pairs = pair_messages(merged)
    got = sorted((m["from"], m["to"], m["type"], m["t"], m["recv"]) for m in pairs)
    assert got == [
        ("n1", "n2", "accept", 60, 110),  # the first send on the link, the first delivery
        ("n1", "n2", "accept", 160, 210),
        ("n1", "n3", "accept", 61, None),  # never delivered
        ("n2", "n1", "accepted", 260, 360),
        ("s0-p2", "n2", "request", 10, 10),  # the node's side only
    ]


def test_a_hostile_trace_costs_its_bad_lines_never_the_report(tmp_path):
    from controller.report import build_report
    from tests.support.runs import make_run

    run = make_run(tmp_path, test_name="reg-bad", stamp="20260101T110000", n_ops=60, invalid=True)
    trace, _ = _trace()
    hostile = [
        {"t": 5, "dir": "send", "id": [1], "from": ["x"], "to": "n1"},  # from: not a name
        {"t": 6, "dir": "send", "id": {"a": 1}, "from": "n1", "to": "n2", "ballot": 7,
         "slots": "abc", "cmds": [1, "s0-p1:1@2"], "size": "big", "type": ["accept"]},
        {"t": 7, "dir": "recv", "id": [2], "from": "n1", "to": "n2"},
        {"t": 8, "dir": "chosen", "node": ["n1"], "slot": 3},
        {"t": "9", "dir": "send"},
        {"t": 10, "dir": "bogus"},
    ]  # fmt: skip
    write_trace(run / "messages.jsonl", trace + hostile)
    problems: list[str] = []
    kept = read_trace(run / "messages.jsonl", problems)
    assert len(kept) == len(trace) + 2 and problems == [
        "messages.jsonl: 4 unreadable line(s) skipped"
    ]
    odd = kept[len(trace)]
    assert odd["ballot"] is None and odd["slots"] == [] and odd["cmds"] == ["s0-p1:1@2"]
    page = build_report(run).read_text()
    assert 'id="lamport-data"' in page and "4 unreadable line(s)" in page


def test_the_report_says_when_the_trace_lost_its_oldest_entries(tmp_path):
    from controller.report import build_report
    from tests.support.runs import make_run

    run = make_run(tmp_path, test_name="reg", stamp="20260101T110000", n_ops=40)
    write_trace(run / "messages.jsonl", _trace()[0])
    results = json.loads((run / "results.json").read_text())
    assert 'id="messages-dropped"' not in build_report(run).read_text()
    (run / "results.json").write_text(json.dumps({**results, "messages_dropped": 1234}))
    page = build_report(run).read_text()
    assert 'id="messages-dropped"' in page and "the first 1234 of the run" in page
