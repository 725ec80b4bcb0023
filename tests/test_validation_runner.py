"""The gate runner on real processes: leftovers after a normal exit, 100 MB of output, one endless line."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from factorops.tools.kernel.tokens import count_tokens
from factorops.tools.oversight import gates as gate_runner
from factorops.tools.oversight import validation

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_children_left_behind_by_a_passing_gate_are_cleared(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    code = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(600)'], stdout=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('tests passed')\n"
    )
    r = gate_runner.run([PY, "-c", code], tmp_path, timeout_s=30)
    assert r.exit_code == 0 and not r.timed_out and "tests passed" in r.head
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "a background child of the gate outlived it"


def test_a_hundred_megabytes_of_output_stay_bounded(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "block = (b'x' * 1023 + b'\\n') * 1024\n"
        "for _ in range(100): sys.stdout.buffer.write(block)\n"
        "sys.stdout.buffer.write(b'FAILED tests/test_big.py::test_last\\n')\n"
        "sys.exit(1)\n"
    )
    r = gate_runner.run([PY, "-c", code], tmp_path, timeout_s=120)
    assert r.exit_code == 1
    assert len(r.head.encode()) <= gate_runner.HEAD_BYTES
    assert len(r.tail.encode()) <= gate_runner.TAIL_BYTES + 65536
    assert r.dropped_bytes >= 99 * 1024 * 1024
    assert r.tail.rstrip().endswith("FAILED tests/test_big.py::test_last")
    out = validation.trim_output(r.head + r.tail)
    assert "FAILED tests/test_big.py::test_last" in out
    assert count_tokens(out) <= validation.OUTPUT_BUDGET + 50


def test_one_enormous_line_cannot_crowd_out_the_failure() -> None:
    text = "progress " + "#" * 300_000 + "\nError: the build broke\n" + "z" * 200_000
    out = validation.trim_output(text, 300)
    assert "Error: the build broke" in out
    assert count_tokens(out) <= 300 + 20


def test_a_gate_killed_by_a_signal_fails(tmp_path: Path) -> None:
    r = gate_runner.run([PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"], tmp_path, 30)
    assert r.exit_code is not None and r.exit_code < 0 and not r.timed_out


def test_a_gate_that_closes_stdout_and_keeps_running_still_times_out(tmp_path: Path) -> None:
    code = "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(600)\n"
    r = gate_runner.run([PY, "-c", code], tmp_path, timeout_s=1)
    assert r.timed_out and r.exit_code is None
