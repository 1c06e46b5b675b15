"""``pilotsim dashboard``: serve the dashboard with solara on 127.0.0.1.

Kept apart from ``sim.cli`` so that the command exists without the ``viz`` extra and says
how to install it.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def add_dashboard_command(sub: argparse._SubParsersAction) -> None:
    """Register ``dashboard`` on the ``pilotsim`` sub-command parser."""
    d = sub.add_parser("dashboard", help="interactive dashboard in the browser (viz extra)")
    d.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to serve on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    d.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only)",
    )
    d.add_argument(
        "--dev", action="store_true", help="development mode: reload when the code changes"
    )
    d.set_defaults(func=cmd_dashboard)


def solara_command(port: int, host: str = DEFAULT_HOST, dev: bool = False) -> list[str]:
    """The ``solara run`` command line that serves the dashboard."""
    cmd = [
        sys.executable,
        "-m",
        "solara",
        "run",
        str(APP),
        "--host",
        host,
        "--port",
        str(port),
        "--no-open",
        "--no-check-version",
    ]
    return cmd + (["--auto-restart"] if dev else ["--production"])


def server_env() -> dict[str, str]:
    """The server's environment: no telemetry (the dashboard works offline)."""
    return {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}


def _exec(cmd: list[str], env: dict[str, str]) -> int:  # replaced in tests
    os.execve(cmd[0], cmd, env)
    return 0  # pragma: no cover - execve does not return


def cmd_dashboard(args: argparse.Namespace) -> int:
    from sim.errors import UsageError

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    missing = [m for m in ("solara", "altair") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"the dashboard needs the viz extra (missing: {', '.join(missing)}): "
            "pip install -e '.[viz]'"
        )
    port = free_port(args.host, args.port)
    print(f"pilotsim dashboard: http://{args.host}:{port}  (Ctrl-C stops it)", flush=True)
    return _exec(solara_command(port, args.host, args.dev), server_env())


def free_port(host: str, port: int) -> int:
    """``port`` if the server can listen on it at ``host`` (0: a free port, picked now),
    checked by binding a socket as the server will (``SO_REUSEADDR``, as uvicorn), so a
    taken port is reported before the URL is printed.

    Raises:
        UsageError: the port is taken, or ``host`` is not an address of this machine.
    """
    import socket

    from sim.errors import UsageError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise UsageError(f"--host {host}: not an address to listen on ({e})") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"--port {port}: {host}:{port} is already in use (another dashboard?); "
                    "choose another port with --port N, or --port 0 for a free one"
                ) from None
            raise UsageError(f"--host {host} --port {port}: cannot listen there ({e})") from None
        return int(s.getsockname()[1])
