"""The redaction trigger table is static (issue #19): `redact()` on text that no trigger selects never
imports detect-secrets (~0.5 s with `requests`), and the checked-in table matches the installed
detect-secrets plugins, so it cannot rot when detect-secrets changes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector

from factorops.tools.kernel import redact as R


def test_the_plugin_table_lists_the_installed_plugins_in_their_order() -> None:
    installed = [cls.__name__ for cls in get_mapping_from_secret_type_to_class().values()]
    assert list(R._DS_PLUGINS) == [name for name in installed if name not in R._DS_SKIP]
    assert set(R._DS_TRIGGERS) == set(R._DS_PLUGINS)  # every plugin has a trigger entry, none is left over
    assert all(R._DS_TRIGGERS[name][0] for name in R._DS_PLUGINS)  # no plugin without a trigger


def test_triggers_copied_from_a_plugin_are_its_patterns() -> None:
    """A trigger compiled with re.MULTILINE is a copy of the plugin's own patterns (detect-secrets'
    denylist), so a changed pattern in a newer detect-secrets fails here."""
    classes = {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}
    copied = 0
    for name in R._DS_PLUGINS:
        triggers = R._DS_TRIGGERS[name][0]
        own = [
            t.needle for t in triggers if isinstance(t.needle, re.Pattern) and t.needle.flags & re.MULTILINE
        ]
        if not own:
            continue
        copied += 1
        assert issubclass(classes[name], RegexBasedDetector), name
        assert own == [re.compile(rx.pattern, rx.flags | re.MULTILINE) for rx in classes[name]().denylist], (
            name
        )
        assert len(own) == len(triggers), name
    assert copied >= 1


def test_the_static_index_is_the_one_the_loaded_plugins_give() -> None:
    plugins = R._ds_plugins()
    assert [p.name for p in plugins] == list(R._DS_PLUGINS)
    triggers = dict.fromkeys(t for p in plugins for t in p.triggers)
    from_plugins = tuple((t, tuple(i for i, p in enumerate(plugins) if t in p.triggers)) for t in triggers)
    assert R._ds_trigger_index() == from_plugins


_PROBE = """
import json, sys
from factorops.tools.kernel.redact import redact
out, counts = redact(sys.argv[1])
print(json.dumps({"out": out, "counts": counts, "loaded": "detect_secrets" in sys.modules}))
"""


def redact_in_a_fresh_process(text: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-P", "-c", _PROBE, text], capture_output=True, text=True, timeout=120, check=True
    )
    got: dict[str, object] = json.loads(proc.stdout)
    return got


def test_text_without_a_trigger_loads_no_detect_secrets() -> None:
    plain = "Session goal: fix the flaky test in tests/test_store.py\ndef f(x):\n    return x + 1\n"
    got = redact_in_a_fresh_process(plain)
    assert got == {"out": plain, "counts": {}, "loaded": False}


def test_text_with_a_trigger_still_runs_the_plugins() -> None:
    # an AWS key id is found by detect-secrets' AWSKeyDetector (its trigger: the literal AKIA)
    got = redact_in_a_fresh_process("id: AKIAZ4X7QJ2MBN5KRT6W here")
    assert got["loaded"] is True
    assert "AKIAZ4X7QJ2MBN5KRT6W" not in str(got["out"])
    assert got["counts"] == {"aws-access-key": 1}
