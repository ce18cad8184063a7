import os
import subprocess
import sys
import time

from bench.procs import free_port, kill_group, peak_rss_bytes


def test_kill_group_takes_children_along(tmp_path):
    pidfile = tmp_path / "child"
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    child = int(pidfile.read_text())
    assert peak_rss_bytes(proc.pid) > 0
    kill_group(proc, grace_s=1)
    assert proc.returncode is not None
    time.sleep(0.2)
    try:
        os.kill(child, 0)
        with open(f"/proc/{child}/stat") as fh:
            assert fh.read().split(")")[1].split()[0] == "Z"  # only a zombie awaiting init
    except ProcessLookupError:
        pass


def test_free_port_is_usable():
    assert 1024 <= free_port() <= 65535
