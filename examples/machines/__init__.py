"""Example replicated state machines: ``paxos-server --state-machine examples.machines.counter:Counter``.

Each implements paxos_impl.machine.StateMachine (or AsyncStateMachine): deterministic apply,
read-only query, JSON snapshot and restore, plus ``example_command`` / ``example_query`` for
the suite's generic workload.
"""
