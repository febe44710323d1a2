"""`paxlab cluster up|status|down|add-node|remove-node`: a cluster left running for manual work.

Why a state file: `up` returns while the nodes keep running, and a later `status` or
`down` (another process, maybe another shell) must find them again. Each cluster made by
`up` gets two files in the state directory ($PAXLAB_HOME, default ~/.paxlab, then
``clusters/``): ``<name>.json`` (backend, node count, backend options) and ``<name>.toml``
(the store configuration clients use: ``paxos-client --config <name>.toml get``). The docker
backend needs neither to clean up -- its containers carry labels -- but the others do.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_NAME = "dev"


def state_dir() -> Path:
    return Path(os.environ.get("PAXLAB_HOME") or Path.home() / ".paxlab") / "clusters"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="cluster_command", metavar="up|status|down|add-node|remove-node")
    sub.required = True
    up = sub.add_parser(
        "up",
        help="start a cluster and leave it running",
        description="Start a cluster and leave it running. Its client config and state go to "
        "$PAXLAB_HOME/clusters/NAME.toml and NAME.json (PAXLAB_HOME defaults to ~/.paxlab).",
    )
    up.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    up.add_argument("--backend", choices=["docker", "local", "ssh"], default="docker")
    up.add_argument(
        "--nodes-file", help="ssh backend: the hosts file (default: $PAXLAB_NODES_FILE)"
    )
    up.add_argument("--read-mode", choices=["log", "quorum", "lease"], help="store read route")
    up.add_argument("--bug", action="append", default=[], help="turn on a deliberate bug")
    up.add_argument(
        "--target-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a store setting, as for paxlab test (e.g. timeouts.lease_ms=500; repeatable)",
    )
    status = sub.add_parser("status", help="each node's state, role and address")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("down", help="remove everything `up` made")
    sub.add_parser(
        "add-node",
        help="a new node (host first): it joins as a learner and is promoted once caught up",
    )
    rm = sub.add_parser("remove-node", help="a node leaves the store, then its host goes")
    rm.add_argument("node", metavar="NODE", help="e.g. n2")
    for sp in sub.choices.values():
        sp.add_argument(
            "--name", default=DEFAULT_NAME, help=f"cluster name (default {DEFAULT_NAME})"
        )


def run(args: argparse.Namespace) -> int:
    from cluster.base import ClusterError
    from paxos_impl.config import ConfigError

    try:
        commands = {"up": _up, "status": _status, "down": _down}
        commands.update({"add-node": _add_node, "remove-node": _remove_node})
        return commands[args.cluster_command](args)
    except (ClusterError, ConfigError) as e:
        sys.stderr.write(f"paxlab cluster: {e}\n")
        return 2


# -- state ---------------------------------------------------------------------------------
def _paths(name: str) -> tuple[Path, Path]:
    d = state_dir()
    return d / f"{name}.json", d / f"{name}.toml"


def _load_state(name: str) -> dict[str, Any]:
    from cluster.base import ClusterError

    state_file, _ = _paths(name)
    try:
        return json.loads(state_file.read_text())
    except FileNotFoundError:
        raise ClusterError(
            f"no cluster named {name} was started with `paxlab cluster up` "
            f"(nothing in {state_file.parent})"
        ) from None
    except ValueError:
        raise ClusterError(f"{state_file} is damaged; remove it by hand") from None


def _reattach(state: dict[str, Any]) -> Any:
    """The running cluster described by a state file, as a Cluster object."""
    from cluster import make_cluster

    c = make_cluster(state["backend"], state["name"], state["nodes"], **state.get("opts", {}))
    if hasattr(c, "attach"):
        c.attach()
    return c


# -- commands ------------------------------------------------------------------------------
def _up(args: argparse.Namespace) -> int:
    from cluster import make_cluster
    from cluster.base import ClusterError
    from targets.bundled import settings as store_settings

    if not 1 <= args.nodes <= 50:
        raise ClusterError(f"--nodes must be within 1..50, not {args.nodes}")
    state_file, config_file = _paths(args.name)
    if state_file.exists():
        raise ClusterError(
            f"cluster {args.name} is already up (see `paxlab cluster status --name {args.name}`;"
            f" `paxlab cluster down --name {args.name}` removes it)"
        )
    opts: dict[str, Any] = {}
    if args.read_mode:
        opts["read_mode"] = args.read_mode
    try:  # checked before anything is made, as `paxlab test` does
        settings = store_settings.parse(args.target_opt)
        store_settings.check(settings, args.nodes, **opts)
    except store_settings.SettingError as e:
        raise ClusterError(str(e)) from None
    opts.update(store_settings.config_kwargs(settings))
    if args.backend == "local":
        opts.update(run_dir=str(state_dir() / f"{args.name}-nodes"), cleanup_at_exit=False)
    if args.backend == "ssh":
        nodes_file = args.nodes_file or os.environ.get("PAXLAB_NODES_FILE")
        if not nodes_file:
            raise ClusterError("the ssh backend needs --nodes-file FILE (or PAXLAB_NODES_FILE)")
        opts["nodes_file"] = str(Path(nodes_file).expanduser().resolve())
    elif args.nodes_file:
        raise ClusterError(f"--nodes-file is for --backend ssh, not {args.backend}")
    t0 = time.monotonic()
    cluster = make_cluster(args.backend, args.name, args.nodes, **opts)
    state_dir().mkdir(parents=True, exist_ok=True)
    state = {
        "name": args.name,
        "backend": args.backend,
        "nodes": args.nodes,
        "opts": opts,
        "config": str(config_file),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    state_file.write_text(json.dumps(state, indent=2) + "\n")  # first: `down` can clean up
    try:
        cluster.setup()
        cluster.start_all(args.bug or None)
    except BaseException:
        try:
            cluster.teardown()
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        finally:
            state_file.unlink(missing_ok=True)
        raise
    config_file.write_text(cluster.config.to_toml())
    took = time.monotonic() - t0
    print(f"cluster {args.name} is up: {args.nodes} {args.backend} nodes in {took:.1f} s")
    for i, node in enumerate(cluster.nodes):
        a = cluster.config.node(i)
        print(f"  {node}  store id {i}  {a.host}:{a.client_port}")
    print(f"client config: {config_file}")
    print("try:")
    print(f"  paxos-client --config {config_file} put greeting hello")
    print(f"  paxos-client --config {config_file} get greeting")
    if args.backend == "docker":
        print(f"  docker exec -it {cluster.container_name(cluster.nodes[0])} bash")
    suffix = "" if args.name == DEFAULT_NAME else f" --name {args.name}"
    print(f"  paxlab cluster status{suffix}")
    print(f"  paxlab cluster down{suffix}")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = _load_state(args.name)
    cluster = _reattach(state)
    rows = [_node_row(cluster, i, node) for i, node in enumerate(cluster.nodes)]
    if args.json:
        print(json.dumps({"name": args.name, "backend": state["backend"], "nodes": rows}))
        return 0
    print(f"cluster {args.name} ({state['backend']}, up since {state['created']})")
    print(f"  {'node':<5} {'state':<9} {'role':<10} {'address':<22} leader")
    for r in rows:
        print(
            f"  {r['node']:<5} {r['state']:<9} {r['role']:<10} {r['address']:<22} "
            f"{'' if r['leader'] is None else r['leader']}"
        )
    return 0


def _node_row(cluster: Any, i: int, node: str) -> dict[str, Any]:
    """One node: is its store running, and what role does the store itself say it has?"""
    from cluster.base import ClusterError, store_id
    from cluster.capabilities import Grow

    i = store_id(node)  # nodes added later come after the config file's, ids never reused
    if isinstance(cluster, Grow):
        host, _, port = cluster.node_address(node)
    else:
        a = cluster.config.node(i)
        host, port = a.host, a.client_port
    row: dict[str, Any] = {
        "node": node,
        "address": f"{host}:{port}",
        "state": "?",
        "role": "-",
        "leader": None,
    }
    try:
        if hasattr(cluster, "node_status"):
            st = cluster.node_status(node)
            row["state"] = st.get("state") or st.get("container", "?")
        else:
            row["state"] = "running" if cluster.is_running(node) else "stopped"
    except ClusterError as e:
        row["state"] = f"error: {e}"
    if row["state"] == "running":
        row.update(_store_role(cluster.config, i, (host, port)))
    return row


def _store_role(config: Any, i: int, where: tuple[str, int]) -> dict[str, Any]:
    from paxos_impl.client import Client, PaxosError

    client = Client(config, node=config.ids()[0], timeout=2.0, follow_redirects=False)
    client.add_address(i, *where)
    try:
        st = client.status(i)
        return {"role": st.get("role", "?"), "leader": st.get("leader")}
    except (PaxosError, OSError) as e:
        return {"role": f"no answer ({type(e).__name__})"}
    finally:
        client.close()


def _down(args: argparse.Namespace) -> int:
    from cluster import make_cluster

    state_file, config_file = _paths(args.name)
    if not state_file.exists():
        return _down_leftovers(args.name)
    state = _load_state(args.name)
    cluster = make_cluster(state["backend"], state["name"], state["nodes"], **state.get("opts", {}))
    cluster.teardown()
    run_dir = state.get("opts", {}).get("run_dir")
    if run_dir and Path(run_dir).parent == state_dir():  # the local nodes' dirs `up` chose
        shutil.rmtree(run_dir, ignore_errors=True)
    state_file.unlink(missing_ok=True)
    config_file.unlink(missing_ok=True)
    print(f"cluster {args.name} is down")
    return 0


def _down_leftovers(name: str) -> int:
    """No state file (an `up` that crashed, or a test run): remove labelled containers."""
    from cluster.base import ClusterError
    from cluster.docker_backend import remove_labelled
    from cluster.image import docker_client

    try:
        gone = remove_labelled(docker_client(), name)
    except ClusterError:
        gone = {}
    if not any(gone.values()):
        _load_state(name)  # raises the "no cluster named ..." error
    print(
        f"removed leftovers of cluster {name}: {', '.join(gone['containers'] + gone['networks'])}"
    )
    return 0


# -- membership: the store's own change, around the backend's hosts ------------------------
def _add_node(args: argparse.Namespace) -> int:
    out = _membership(args.name, None)
    print(f"{out['added']} joined" + (" as a voter" if out.get("voter") else " as a learner"))
    return 0


def _remove_node(args: argparse.Namespace) -> int:
    out = _membership(args.name, args.node)
    print(f"{out['removed']} left; its host is gone")
    return 0


def _membership(name: str, remove: str | None) -> dict[str, Any]:
    """One change done as the membership nemesis does it (nemesis.membership), on the
    cluster `up` left running; ClusterError (one line) if the store refused it."""
    import asyncio
    import random

    from cluster.base import ClusterError
    from cluster.capabilities import Grow, need
    from nemesis.base import FaultContext
    from nemesis.membership import MembershipNemesis
    from targets.base import ReconfigError
    from targets.bundled.target import BundledTarget

    state = _load_state(name)
    cluster = _reattach(state)
    grow = need(cluster, Grow)
    if remove is not None and remove not in cluster.nodes:
        raise ClusterError(f"no node {remove!r} in cluster {name} ({', '.join(cluster.nodes)})")

    async def call(fn: Any, *a: Any, **kw: Any) -> Any:
        return fn(*a, **kw)

    target = BundledTarget(nodes=len(cluster.nodes))
    fx = FaultContext(cluster=cluster, call=call, rng=random.Random(), target=target)
    nem = MembershipNemesis()
    try:
        if remove is None:
            return asyncio.run(nem.grow(fx, target, grow, replace=None))
        return asyncio.run(nem.remove(fx, target, grow, remove))
    except ReconfigError as e:
        for node in nem.pending:  # a host the store never took in
            grow.remove_node(node)
        raise ClusterError(f"the store refused: {e}") from None
