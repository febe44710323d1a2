"""Who leads an etcd cluster: each member's ``/v3/maintenance/status`` names the leader's
member id, and each member's own id is in its answer's header, so asking every member
gives the leader's client URL (an endpoint-status table, as ``etcdctl endpoint status``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp


async def member_status(
    session: aiohttp.ClientSession, url: str, timeout: float
) -> dict[str, Any] | None:
    """One member's status ({"member_id", "leader", "raft_term", ...}); None if it does not
    answer in time (down, paused, or cut off)."""
    try:
        async with session.post(
            url.rstrip("/") + "/v3/maintenance/status",
            json={},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            doc = json.loads(await resp.text())
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return None
    if not isinstance(doc, dict) or "error" in doc:
        return None
    header = doc.get("header") or {}
    return {
        "member_id": str(header.get("member_id", "")),
        "leader": str(doc.get("leader", "")),
        "raft_term": int(doc.get("raftTerm", doc.get("raft_term", 0)) or 0),
        "version": doc.get("version", ""),
    }


async def leaders(urls: dict[str, str], timeout: float = 1.0) -> list[str]:
    """Node names whose member leads, by the votes of the members that answered, the
    highest term's claim first (a cut-off old leader may still believe in itself)."""
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*[member_status(session, u, timeout) for u in urls.values()])
    by_id = {a["member_id"]: node for node, a in zip(urls, answers, strict=True) if a}
    claims: dict[str, int] = {}
    for a in answers:
        if a and a["leader"] in by_id and a["leader"] != "0":
            node = by_id[a["leader"]]
            claims[node] = max(claims.get(node, 0), a["raft_term"])
    return sorted(claims, key=lambda n: -claims[n])


async def wait_leader(urls: dict[str, str], within: float = 20.0) -> list[str]:
    """Poll until the members agree someone leads (the cluster serves writes); the leaders
    as :func:`leaders` orders them, or [] when time ran out."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await leaders(urls)
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.1)
