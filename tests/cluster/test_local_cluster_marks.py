"""The local backend's partition rules for answers on connections the other side opened
(etcd streams raft messages on responses): which connections are marked, what is dropped."""

from __future__ import annotations

from cluster.local import LocalCluster


def test_each_node_marks_the_connections_it_opens_and_a_partition_drops_answers_on_them():
    c = LocalCluster("paxlab-test-lomarks", 3, faketime=False, tls=False)
    try:
        marks = c._mark_rules()
        assert len(marks) == 3
        assert all("--ctstate NEW" in r and "CONNMARK --set-xmark" in r for r in marks)
        assert f"--gid-owner {c.gid('n2')} -j CONNMARK --set-xmark 0x2000000/0xff000000" in marks[1]
        rules = c._answer_rules({"n1": {"n2", "n1"}, "n2": {"n1"}, "n3": set()})
        # n1 and n2 are cut: each drops what it sends on the connections the other opened
        assert rules == [
            f"-A {c._chain} -o lo -m owner --gid-owner {c.gid('n2')}"
            " -m connmark --mark 0x1000000/0xff000000 -j DROP",
            f"-A {c._chain} -o lo -m owner --gid-owner {c.gid('n1')}"
            " -m connmark --mark 0x2000000/0xff000000 -j DROP",
        ]
        assert c._answer_rules({}) == []
    finally:
        c.teardown()
