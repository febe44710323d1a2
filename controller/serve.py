"""`paxlab serve`: browse results/ over HTTP, bound to localhost unless told otherwise.

Only files under results/ are served. http.server's own path handling silently drops
``..`` segments and follows symlinks anywhere; here a request that names a parent
directory (also percent-encoded, e.g. ``%2e%2e``, ``%2f``), a backslash, a NUL, or a path
whose real location (symlinks resolved) is outside results/ gets a plain 404, so nothing
about the rest of the disk leaks. results/latest, a symlink inside results/, still works.

Dotfiles and dot-folders (``.git``, ``.env``, editor swap files...) are neither served nor
listed: nothing the suite writes starts with a dot, so anything that does was put there by
something else. Every connection has a timeout (``REQUEST_TIMEOUT``): a client that opens a
connection and sends nothing, or sends a request a byte at a time, is dropped instead of
holding a thread for ever.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import io
import os
import sys
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

REQUEST_TIMEOUT = 30.0  # seconds a connection may stay silent (headers, body, keep-alive)


def resolve_request(root: Path, url_path: str) -> Path | None:
    """The file or folder a request path names under root, or None when it must be refused."""
    path = urlsplit(url_path).path
    decoded = unquote(path, errors="strict")
    if "\x00" in decoded or "\\" in decoded:
        return None
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if any(p.startswith(".") for p in parts):  # "..", and every dotfile or dot-folder
        return None
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root.joinpath(*parts))) if parts else real_root
    if target != real_root and real_root not in target.parents:
        return None
    return target


class ResultsHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler confined to one directory (see resolve_request)."""

    server_version = "paxlab-serve"
    timeout = REQUEST_TIMEOUT  # StreamRequestHandler puts it on the socket: reads time out

    def __init__(self, *args, directory: str, **kwargs) -> None:
        self.root = Path(directory)
        super().__init__(*args, directory=directory, **kwargs)

    def send_head(self):
        try:
            target = resolve_request(self.root, self.path)
        except UnicodeDecodeError:
            target = None
        if target is None or not target.exists():
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        # send_head has already refused anything outside root; map the rest the same way
        try:
            target = resolve_request(self.root, path)
        except UnicodeDecodeError:
            target = None
        if target is None:
            return os.path.join(os.path.realpath(self.root), ".does-not-exist")
        return str(target) + ("/" if urlsplit(path).path.endswith("/") else "")

    def list_directory(self, path):
        """A plain listing of one folder, without dot-entries (they would 404 anyway)."""
        try:
            names = sorted(n for n in os.listdir(path) if not n.startswith("."))
        except OSError:
            self.send_error(404, "Not found")
            return None
        title = html.escape(unquote(urlsplit(self.path).path), quote=False)
        rows = []
        for name in names:
            shown = name + ("/" if os.path.isdir(os.path.join(path, name)) else "")
            href = quote(shown, errors="surrogatepass")
            rows.append(f'<li><a href="{href}">{html.escape(shown, quote=False)}</a></li>')
        body = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
            f"</head><body><h1>{title}</h1><ul>{''.join(rows)}</ul></body></html>"
        ).encode("utf-8", "surrogateescape")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib's signature
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


def make_server(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    quiet: bool = False,
    request_timeout: float = REQUEST_TIMEOUT,
) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (ResultsHandler,), {"timeout": request_timeout})
    server = http.server.ThreadingHTTPServer(
        (host, port), functools.partial(handler, directory=str(root))
    )
    server.quiet = quiet  # type: ignore[attr-defined]
    return server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument(
        "--results", default=None, help="the results folder (default $PAXLAB_RESULTS or ./results)"
    )


def run(args: argparse.Namespace) -> int:
    from controller.index import write_index
    from controller.store import results_root

    root = results_root(args.results)
    if not root.is_dir():
        sys.stderr.write(f"paxlab serve: {root}: no results folder (run a test first)\n")
        return 2
    if not 0 <= args.port <= 65535:
        sys.stderr.write(f"paxlab serve: --port must be 0..65535, got {args.port}\n")
        return 2
    write_index(root)
    try:
        server = make_server(root, args.host, args.port)
    except OSError as e:
        sys.stderr.write(f"paxlab serve: cannot listen on {args.host}:{args.port}: {e.strerror}\n")
        return 2
    host, port = server.server_address[:2]
    print(f"serving {root.resolve()} on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
