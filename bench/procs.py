"""Processes the bench starts: each in its own process group, always killed at the end."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM (the resident-set high-water mark) of ``pid`` and its living descendants."""
    total = 0
    found = False
    for p in [pid, *_descendants(pid)]:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
                        found = True
        except OSError:
            continue
    return total if found else None


def _descendants(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            direct = [int(x) for x in fh.read().split()]
    except OSError:
        return kids
    for k in direct:
        kids.append(k)
        kids.extend(_descendants(k))
    return kids


def kill_group(proc: subprocess.Popen | None, grace_s: float = 3.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace_s``."""
    if proc is None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if pgid is not None and pgid != os.getpgid(0):
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    elif proc.poll() is None:
        proc.kill()
    proc.wait()


def machine_busy_s() -> float | None:
    """CPU seconds all processes on the machine have used since boot (from /proc/stat)."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = f
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def add_server_args(ap: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    """``--settings`` and ``--fim-lsp``, as the stand-alone benches that start real servers take
    them (read ``--settings`` with `settings_arg`)."""
    ap.add_argument("--settings", default="{}",
                    help=f"JSON merged into the initializationOptions (default ones: {json.dumps(defaults)})")  # fmt: skip
    ap.add_argument("--fim-lsp", default=str(Path(sys.executable).parent / "fim-lsp"),
                    help="command that starts fim-lsp on stdio (split like a shell)")  # fmt: skip


def settings_arg(text: str) -> dict[str, Any]:
    """The ``--settings`` JSON object; anything else stops the run with a message."""
    extra = json.loads(text)
    if not isinstance(extra, dict):
        raise SystemExit("--settings must be a JSON object")
    return extra
