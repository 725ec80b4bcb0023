"""Throughput of `redact` over the Python stdlib, and how often it fires on ordinary code.

Run: python3 bench/bench_redact.py [--root DIR] [--ext py,json]. The corpus is every matching file
under DIR (default: this interpreter's stdlib, site-packages and detect-secrets' own sources
excluded, files over 1 MB skipped). Baseline: a regex-free pass over the same corpus
(`str.splitlines`), so the ratio says how many plain passes one redaction costs on this machine.
Also printed: redactions per MB (false positives on code that holds no secret) and the one-time cost
of the first call (importing detect-secrets), which the server pays in a background thread at start.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import result  # noqa: E402


def corpus(root: Path, exts: set[str]) -> list[str]:
    out: list[str] = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lstrip(".") not in exts or "site-packages" in p.parts or "detect_secrets" in p.parts:
            continue
        try:
            if not p.is_file() or p.stat().st_size > 1_000_000:
                continue
            out.append(p.read_text())
        except (UnicodeDecodeError, OSError):
            continue
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    ap.add_argument("--ext", default="py")
    args = ap.parse_args()
    start = time.perf_counter()
    from factorops.tools.kernel.redact import redact

    redact("warm up: password = 'abc123xyz'")
    first = time.perf_counter() - start
    texts = corpus(args.root, set(args.ext.split(",")))
    mb = sum(len(t.encode()) for t in texts) / 1e6
    start = time.process_time()
    for t in texts:
        t.splitlines()
    plain = time.process_time() - start
    start = time.process_time()
    total: Counter[str] = Counter()
    for t in texts:
        total.update(redact(t)[1])
    elapsed = time.process_time() - start
    n = sum(total.values())
    print(f"{mb:.1f} MB in {len(texts)} files: redact {elapsed:.2f}s CPU, splitlines {plain:.3f}s CPU")
    print(f"{n} redactions = {n / mb:.2f} per MB: {dict(total.most_common(12))}")
    result("redact_first_call", first * 1000, None, "ms")
    result("redact_stdlib_mb_per_s", mb / elapsed, mb / max(plain, 1e-9), "MB/s")
    result("redact_stdlib_redactions_per_mb", n / mb, None, "1/MB")


if __name__ == "__main__":
    main()
