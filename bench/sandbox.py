"""Run an untrusted completed program and its tests in a subprocess.

Limits: wall-clock timeout (the whole process group is killed), CPU seconds, address space,
file size and no core dumps through rlimits. Network: a fresh network namespace where the
kernel allows one (root, or unprivileged user namespaces), and in every case a guard that makes
``socket`` unusable inside the program. Isolated mode (``-I``) keeps the environment and user
site-packages out. This is containment for benchmark code, not a security boundary.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000

# Runs before the program: sockets cannot be created, even where no network namespace exists.
_GUARD = """\
import socket as _s
def _no_net(*a, **k):
    raise OSError("network disabled in the benchmark sandbox")
class _NoSocket:
    def __init__(self, *a, **k):
        _no_net()
_s.socket = _NoSocket
_s.create_connection = _no_net
_s.socketpair = _no_net
_s.getaddrinfo = _no_net
del _s, _no_net, _NoSocket
import sys as _sys
_path = _sys.argv[1]
with open(_path, encoding="utf-8") as _f:
    _src = _f.read()
_g = {"__name__": "__main__", "__file__": _path}
exec(compile(_src, _path, "exec"), _g)
"""


@dataclass(frozen=True)
class ExecResult:
    status: str  # "passed" | "failed" | "timeout"
    returncode: int | None
    duration_s: float
    output_tail: str
    network_namespace: bool

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _limits(timeout_s: float, memory_mb: int, want_netns: bool):
    def apply() -> None:
        os.setsid()
        cpu = int(timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        mem = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if want_netns:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(_CLONE_NEWNET) != 0:
                libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)

    return apply


def _in_new_netns(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    except OSError:
        return False


def run_program(
    source: str, *, timeout_s: float = 10.0, memory_mb: int = 1024, network_namespace: bool = True
) -> ExecResult:
    with tempfile.TemporaryDirectory(prefix="fim-bench-exec-") as tmp:
        prog = Path(tmp) / "program.py"
        prog.write_text(source, encoding="utf-8")
        out_path = Path(tmp) / "output.txt"
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        t0 = time.monotonic()
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _GUARD, str(prog)],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_limits(timeout_s, memory_mb, network_namespace),
            )
            netns = _in_new_netns(proc.pid)
            try:
                rc: int | None = proc.wait(timeout=timeout_s)
                status = "passed" if rc == 0 else "failed"
            except subprocess.TimeoutExpired:
                status, rc = "timeout", None
            finally:
                # Children the program started die with it, whether it finished or not.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        duration = time.monotonic() - t0
        tail = out_path.read_bytes()[-2000:].decode("utf-8", "replace")
    return ExecResult(status, rc, duration, tail, netns)
