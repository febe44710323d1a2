"""`paxlab image build|status`: make the node image current, or say whether it is."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="image_command", metavar="build|status")
    sub.required = True
    b = sub.add_parser("build", help="build the node image (only when its inputs changed)")
    b.add_argument(
        "--base",
        help="a pullable public base (e.g. debian:trixie-slim) instead of mmdebstrap",
    )
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    sub.add_parser("status", help="is the node image built and current?")


def run(args: argparse.Namespace) -> int:
    from cluster import image
    from cluster.base import ClusterError

    try:
        client = image.docker_client()
        if args.image_command == "build":
            st = image.build(client, base=args.base, force=args.force)
            print(st.line())
            return 0 if st.current else 2
        st = image.status(client, base=image.public_base(client))
        print(st.line())
        return 0 if st.current else 2
    except ClusterError as e:
        sys.stderr.write(f"paxlab image: {e}\n")
        return 2
