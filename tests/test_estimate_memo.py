"""`estimate_tokens` reads each piece's count from a memo: the counts must be the ones the
per-piece rules give, on a first call and on every call after it, and the memo must stay bounded."""

from __future__ import annotations

import math
import random

import pytest

from factorops.tools.kernel import tokens
from factorops.tools.kernel.tokens import _NO_CAPS, _PIECE, estimate_tokens


def _reference(text: str) -> int:
    """The estimate as written before the memo (the loop over pieces, on the module's own pieces),
    kept here as the oracle."""
    n = 0
    for piece in _PIECE.findall(text):
        if not piece.isascii():
            n += len(piece.encode())
        elif piece[-1].isalpha():
            core = piece.lstrip(" ")
            caps = len(core) - len(core.translate(_NO_CAPS))
            n += math.ceil(len(core) / (1.5 if caps >= 3 and caps * 3 >= len(core) else 4))
        elif piece[0].isdigit():
            n += 1
        elif piece.isspace():
            n += math.ceil(len(piece) / 4)
        else:
            n += (len(piece) + 1) // 2
    return n


# Every class of piece and each edge between them: capitals, digits, underscores, control and
# non-ASCII whitespace, combining marks, a lone space before a word, a number or punctuation.
_CHARS = "aAbBzZ09_ \t\n\x1c\x00.,;:-\"'[]{}()…éÉ\xa0\u2003٣ß\u0301"
_ALPHABET = [*_CHARS, "  ", " a", " .", " _", " 1", " é", "ABC"]


def _texts(seed: int, n: int) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 40))) for _ in range(n)]


@pytest.fixture(autouse=True)
def _empty_memo() -> None:
    tokens._costs.clear()


def test_counts_equal_the_per_piece_rules_on_first_and_later_calls() -> None:
    texts = _texts(20261126, 3000)
    want = [_reference(t) for t in texts]
    assert [estimate_tokens(t) for t in texts] == want  # mostly misses
    assert tokens._costs, "the memo kept nothing"
    assert [estimate_tokens(t) for t in texts] == want  # now from the memo


def test_a_search_reply_is_counted_the_same() -> None:
    reply = (
        '{"id":"pat-0069418","title":"Retry the HTTP call","kind":"anti-pattern","status":"active",'
        '"confidence":0.94,"snippet":"…the [retry] loop in CI_build_v2 QWERTYUIOPAS…","tags":["net","ci"]}'
    )
    assert estimate_tokens(reply) == estimate_tokens(reply) == _reference(reply)


def test_the_memo_is_bounded() -> None:
    long_piece = "x" * (tokens.MEMO_PIECE_CHARS + 1)
    assert estimate_tokens(long_piece) == _reference(long_piece)
    assert long_piece not in tokens._costs
    # more distinct words than the memo holds: "wb", "wc", ..., "wbaa", ... (digits as letters)
    words = [
        "w" + str(i).translate(str.maketrans("0123456789", "abcdefghij"))
        for i in range(tokens.MEMO_PIECES + 100)
    ]
    estimate_tokens(" ".join(words))
    assert 0 < len(tokens._costs) <= tokens.MEMO_PIECES
