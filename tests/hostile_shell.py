"""Hostile shell inputs (issue #13): deep nesting, bombs, huge pipelines, NULs. Plain data, no
test imports: tests/test_shell.py checks each gives a well-formed answer and bench/bench_shell.py
times them (it imports this file from tests/ as bench_safe_tar.py does hostile_archives.py, so a
README install without the test dependencies can run it)."""

from __future__ import annotations

HOSTILE: dict[str, str] = {
    "1000 nested $(": "$(" * 1000 + "git push -f origin main" + ")" * 1000,
    "1000 nested $(echo": "echo " + "$(echo " * 1000 + ")" * 1000,
    "3000 unclosed $(": "echo " + "$(" * 3000,
    "2000 && chain": ("a && " * 2000 + "b")[:10_000],
    "5000 ((": "((" * 5000,
    "10000 quotes": "'" * 10_000,
    "1600 nested ${a:-": "${a:-" * 1600 + "}" * 1600,
    "eval chain": "eval " * 1999,
    "2400-stage pipeline": "a | " * 2400 + "b",
    "3300 words": "git push " + "-f " * 3300,
    "variable doubling": "a=xxxxxxxxxx; " + "a=$a$a; " * 600 + "echo $a",
    "brace bomb": "echo " + "{a,b}" * 1000,
    "for loops x200": "for a in 1 2 3 4 5 6 7 8; do " * 200 + "echo $a" + "; done" * 200,
    "recursive function": "f(){ f; f; }; f",
    "3000 subshells": "(" * 3000 + ")" * 3000,
    "10000 <": "<" * 10_000,
    "10000 >": ">" * 10_000,
    "NULs": "git\x00 push -f origin main" * 300,
    "continuations": "g\\\ni\\\nt \\\n" * 1000,
}
