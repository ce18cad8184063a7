import os
import socket
import textwrap
import time

from bench.sandbox import run_program


def test_passing_and_failing_programs():
    assert run_program("assert 1 + 1 == 2\n").status == "passed"
    r = run_program("assert 1 + 1 == 3, 'nope'\n")
    assert r.status == "failed" and "nope" in r.output_tail


def test_syntax_error_fails():
    assert run_program("def f(:\n").status == "failed"


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    src = textwrap.dedent(f"""
        import subprocess, sys
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(str(p.pid))
        while True:
            pass
    """)
    t0 = time.monotonic()
    r = run_program(src, timeout_s=2)
    assert r.status == "timeout"
    assert time.monotonic() - t0 < 10
    child = int(pidfile.read_text())
    time.sleep(0.2)
    # The grandchild is gone (or a zombie reaped by init), not left sleeping.
    try:
        with open(f"/proc/{child}/stat") as fh:
            state = fh.read().split(")")[1].split()[0]
        assert state == "Z"
    except FileNotFoundError:
        pass


def test_memory_limit_stops_a_memory_bomb():
    r = run_program("x = bytearray(4 * 1024 ** 3)\n", memory_mb=512)
    assert r.status == "failed"
    assert "MemoryError" in r.output_tail


def test_no_network_even_to_localhost():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    src = textwrap.dedent(f"""
        import socket
        s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
        s.sendall(b"hi")
    """)
    r = run_program(src, timeout_s=5)
    assert r.status == "failed"
    try:
        conn, _ = srv.accept()
        conn.close()
        raise AssertionError("the sandboxed program reached the network")
    except TimeoutError:
        pass
    finally:
        srv.close()


def test_environment_is_not_inherited(monkeypatch):
    monkeypatch.setenv("FIM_BENCH_SECRET", "x")
    r = run_program("import os\nassert 'FIM_BENCH_SECRET' not in os.environ\n")
    assert r.status == "passed"
    assert os.environ["FIM_BENCH_SECRET"] == "x"
