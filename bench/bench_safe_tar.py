"""Peak memory (and time) of safe_tar.read_members on each hostile archive, one fresh process each.

Run: python3 bench/bench_safe_tar.py [--tarfile]. Each case runs in its own interpreter so its peak
resident set (including the interpreter) is its own; the baseline row is an interpreter that only
imports safe_tar. With --tarfile, the two headline archives are also opened with `tarfile` (under
a 2 GiB address-space limit and a 60 s timeout, so the machine is safe) to show what the reader
replaces.

Two numbers per case: `ru_maxrss` of RUSAGE_SELF, and VmHWM from /proc/self/status. Linux carries
the high-water mark of the forking parent's memory into a child's ru_maxrss across exec, so the
archives are built by a separate process and this launcher stays small; VmHWM belongs to the
child's own address space only and is the cross-check.

Then the real interface: `factorops bundle verify <archive>` in a subprocess per hostile archive,
its peak RSS read from os.wait4 (target <= 100 MB); baseline: the same command on a good bundle.
The archive builders are tests/hostile_archives.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import factorops_argv, result  # noqa: E402

HERE = Path(__file__).resolve().parent.parent / "tests"  # hostile_archives.py lives there
TARGET_MIB = 100

_CHILD = """
import resource, sys, time
from pathlib import Path
from factorops.tools.patterns.safe_tar import ArchiveError, read_members
t = time.perf_counter()
outcome = "baseline"
if sys.argv[2] != "-":
    try:
        got = read_members(Path(sys.argv[2]))
        outcome = f"accepted {len(got)} members, {sum(map(len, got.values()))} bytes"
    except ArchiveError as exc:
        outcome = f"refused ({exc.kind}): {exc}"
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm, time.perf_counter() - t, outcome, sep="\\t")
"""

_BUILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import hostile_archives as h
good = {f"patterns/p{i:04d}.md": bytes([65 + i % 26]) * 40_000 for i in range(1000)}
cases = dict(h.HOSTILE)
cases["good: 1000 members x 40 kB (accepted)"] = (lambda: h.good_archive(good), "")
for i, (name, (build, _)) in enumerate(cases.items()):
    t = time.perf_counter()
    h.write(Path(sys.argv[2]) / f"{i:02d}.tar.gz", build())
    print(f"{i:02d}.tar.gz", name, time.perf_counter() - t, sep="\\t")
"""

_TARFILE = """
import resource, sys, tarfile, time
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
t = time.perf_counter()
try:
    with tarfile.open(sys.argv[1], "r:gz") as tar:
        n = len(tar.getmembers())
    outcome = f"opened, {n} members"
except MemoryError:
    outcome = "MemoryError under a 2 GiB address-space limit"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm, time.perf_counter() - t, outcome, sep="\\t")
"""


def _run(code: str, *args: str, timeout: float = 120) -> tuple[float, float, float, str]:
    """(ru_maxrss MiB, VmHWM MiB, seconds, outcome) of `code` in a fresh interpreter."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:
        return float("nan"), float("nan"), timeout, f"still running after {timeout:.0f} s (killed)"
    rss_kib, hwm_kib, seconds, outcome = out.stdout.strip().split("\t", 3)
    return int(rss_kib) / 1024, int(hwm_kib) / 1024, float(seconds), outcome


def _verify_rss(archive: Path, project: Path) -> tuple[float, int, str]:
    """(peak RSS MiB, exit code, last output line) of `factorops bundle verify` in a fresh process."""
    proc = subprocess.Popen(
        [*factorops_argv(), "bundle", "verify", str(archive), "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read().decode(errors="replace").strip().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, proc.returncode, (out[-1] if out else "")


def _cli_part(tmp: Path, built: list[str]) -> tuple[float, float]:
    project = tmp / "project"
    project.mkdir(exist_ok=True)
    print("factorops bundle verify (CLI subprocess), peak RSS from wait4:")
    worst, base = 0.0, 0.0
    for line in built:
        file, name, _ = line.split("\t")
        rss, code, last = _verify_rss(tmp / file, project)
        if name.startswith("good"):
            base = rss
        else:
            worst = max(worst, rss)
        print(f"   {name:42} {rss:6.1f} MiB  exit {code}  {last[:110]}")
    print(
        f"=> worst peak over the hostile archives via the CLI: {worst:.1f} MiB (good bundle: {base:.1f} MiB)"
    )
    return worst, base


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        built = subprocess.run(
            [sys.executable, "-c", _BUILD, str(HERE), tmp], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        rss, hwm, _, _ = _run(_CHILD, str(HERE), "-")
        print(
            f"{'baseline (interpreter + import safe_tar)':42} ru_maxrss {rss:5.1f} MiB  VmHWM {hwm:5.1f} MiB"
        )
        worst = 0.0
        for line in built:
            file, name, build_s = line.split("\t")
            path = Path(tmp) / file
            rss, hwm, seconds, outcome = _run(_CHILD, str(HERE), str(path))
            if not name.startswith("good"):
                worst = max(worst, rss, hwm)
            print(
                f"{name:42} ru_maxrss {rss:5.1f} MiB  VmHWM {hwm:5.1f} MiB  {seconds:6.3f} s  "
                f"{path.stat().st_size / 1024:5.0f} KiB on disk (built in {float(build_s):.2f} s) -> {outcome[:100]}"
            )
        verdict = "within" if worst <= TARGET_MIB else "OVER"
        print(
            f"=> worst peak over the hostile archives: {worst:.1f} MiB ({verdict} the {TARGET_MIB} MiB target)"
        )
        cli_worst, cli_base = _cli_part(Path(tmp), built)
        result("bundle_verify_header_bomb_peak_rss", cli_worst, cli_base, "MB", f"<= {TARGET_MIB} MB")
        result("safe_tar_header_bomb_peak_rss", worst, None, "MB", f"<= {TARGET_MIB} MB")
        if "--tarfile" in sys.argv:
            for i, name in enumerate(["long-name 'L' claims 1 GiB (zeros)", "PAX 'x' claims 1 GiB (zeros)"]):
                file = next(line.split("\t")[0] for line in built if line.split("\t")[1] == name)
                rss, hwm, seconds, outcome = _run(_TARFILE, str(Path(tmp) / file), timeout=60 if i else 120)
                print(f"tarfile: {name:36} ru_maxrss {rss:7.1f} MiB  {seconds:6.2f} s -> {outcome[:90]}")


if __name__ == "__main__":
    main()
