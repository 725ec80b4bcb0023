"""Breadth and depth in one load, whole definitions only, named files first, identifiers ranked first,
and tree-sitter outlines for every language the grammar wheels cover. Through the MCP client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.tools.context import outline

from .conftest import Clock, new_repo

SOURCES: dict[str, tuple[str, list[str]]] = {
    # path: (source, signature lines the outline must list)
    "web/greet.js": (
        'export function greet(name) {\n  return "hi " + name;\n}\n\nclass Greeter {\n'
        "  hello() {\n    return greet(this.n);\n  }\n}\n\nexport const shout = (s) => s.toUpperCase();\n",
        ["export function greet(name) {", "class Greeter {", "hello() {", "export const shout = (s) =>"],
    ),
    "web/client.ts": (
        "export interface Options {\n  retries: number;\n}\n\nexport class Client {\n"
        "  send(req: Request): Promise<Response> {\n    return fetch(req);\n  }\n}\n\n"
        "export function makeClient(o: Options): Client {\n  return new Client();\n}\n",
        [
            "export interface Options {",
            "export class Client {",
            "send(req: Request)",
            "export function makeClient(",
        ],
    ),
    "web/Button.tsx": (
        "export function Button(props: { label: string }) {\n  return <button>{props.label}</button>;\n}\n",
        ["export function Button(props"],
    ),
    "srv/server.go": (
        "package srv\n\ntype Server struct {\n\tport int\n}\n\nfunc (s *Server) Start() error {\n\treturn nil\n}\n\n"
        "func NewServer(port int) *Server {\n\treturn &Server{port: port}\n}\n",
        ["type Server struct {", "func (s *Server) Start() error {", "func NewServer(port int) *Server {"],
    ),
    "core/src/config.rs": (
        "pub struct Config {\n    pub name: String,\n}\n\nimpl Config {\n    pub fn new(name: &str) -> Self {\n"
        "        Config { name: name.to_string() }\n    }\n}\n\npub trait Render {\n    fn render(&self) -> String;\n}\n",
        ["pub struct Config {", "impl Config {", "pub fn new(name: &str) -> Self {", "pub trait Render {"],
    ),
    "bank/Account.java": (
        "public class Account {\n    private int balance;\n\n    public void deposit(int amount) {\n"
        "        balance += amount;\n    }\n}\n",
        ["public class Account {", "public void deposit(int amount) {"],
    ),
    "native/point.c": (
        "struct point {\n  int x;\n  int y;\n};\n\nstatic int add_points(int a, int b) {\n  return a + b;\n}\n",
        ["struct point {", "static int add_points(int a, int b) {"],
    ),
    "native/shape.cpp": (
        "namespace geo {\nclass Shape {\n public:\n  virtual double area() const = 0;\n};\n\n"
        "double circle_area(double r) {\n  return 3.14 * r * r;\n}\n}  // namespace geo\n",
        ["namespace geo {", "class Shape {", "double circle_area(double r) {"],
    ),
    "lib/cart.rb": (
        "module Shop\n  class Cart\n    def add(item)\n      @items << item\n    end\n  end\nend\n",
        ["module Shop", "class Cart", "def add(item)"],
    ),
}


@pytest.mark.parametrize("path", sorted(SOURCES))
def test_outline_per_language(path: str) -> None:
    text, expected = SOURCES[path]
    got = outline.outline(path, text)
    for sig in expected:
        assert sig in got, (path, sig, got)
    for d in outline.definitions(path, text):  # every definition spans its whole text
        assert d.start <= d.line <= d.end


@pytest.fixture
def poly(tmp_path: Path) -> Path:
    root = tmp_path / "poly"
    new_repo(root, {p: src for p, (src, _sigs) in SOURCES.items()}, "one file per language")
    return root


async def _load(c: Client, **args: Any) -> dict[str, Any]:
    r = await c.call_tool("context_load", args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def test_repo_map_names_files_of_every_language(poly: Path, clock: Clock) -> None:
    runtime = Runtime(project=poly, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        task = "greet Client makeClient Button NewServer Config Account deposit add_points circle_area Cart"
        data = await _load(c, task=task, budget_tokens=3000)
    runtime.close()
    named = {i["path"] for i in data.get("items", [])} | set(data.get("map", []))
    assert named == set(SOURCES), set(SOURCES) - named
    for path in data.get("map", []):  # a map entry lists the file's signatures
        assert any(sig in data["content"] for sig in SOURCES[path][1]), path


# -- a click-like project: the function the task names lives among many files that use it -------------


def _click_like() -> dict[str, str]:
    files: dict[str, str] = {}
    helpers = "".join(
        f"def helper_{i}(value, width=80):\n"
        f'    """Format a value for the terminal, variant {i}."""\n'
        + "".join(f"    value = str(value).strip() + ' ' * {k}\n" for k in range(12))
        + "    return value[:width]\n\n\n"
        for i in range(30)
    )
    files["clicky/utils.py"] = (
        '"""Utility functions."""\n\nimport sys\n\n\n'
        + helpers
        + "def echo(message=None, file=None, nl=True, err=False, color=None):\n"
        '    """Print a message and a newline to the given file or stdout."""\n'
        "    if file is None:\n"
        "        file = sys.stderr if err else sys.stdout\n"
        "    if message is not None:\n"
        "        file.write(str(message))\n"
        "    if nl:\n"
        '        file.write("\\n")\n'
        "    file.flush()\n\n\n"
        + "".join(f"def after_{i}(x):\n    return helper_{i}(x)\n\n\n" for i in range(20))
    )
    for name in ("termui", "core", "decorators", "exceptions", "formatting", "shell_completion"):
        body = "".join(
            f"def {name}_{i}(ctx, text):\n"
            f'    """Show {name} output."""\n'
            f"    echo(text)\n    echo(ctx.info_name, err=True)\n    return echo\n\n\n"
            for i in range(25)
        )
        files[f"clicky/{name}.py"] = f'"""The {name} part."""\n\nfrom .utils import echo\n\n\n' + body
    files["clicky/__init__.py"] = "from .utils import echo\n"
    files["tests/test_utils.py"] = (
        "from clicky.utils import echo\n\n\ndef test_echo(capsys):\n    echo('x')\n"
    )
    return files


@pytest.fixture
def clicky(tmp_path: Path) -> Path:
    root = tmp_path / "clicky"
    new_repo(root, _click_like(), "a click-like project")
    return root


async def test_file_defining_the_named_function_comes_first_at_1k(clicky: Path, clock: Clock) -> None:
    runtime = Runtime(project=clicky, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data = await _load(c, task="echo should not flush when the stream is closed", budget_tokens=1000)
    runtime.close()
    first = data["items"][0]
    assert first["path"] == "clicky/utils.py", data["items"]
    assert "defines echo" in first["why"]
    # the relevant whole definition, header to last line, never a fragment
    assert first["mode"] == "definitions"
    source = (clicky / "clicky/utils.py").read_text()
    start = source.index("def echo(")
    whole = source[start : source.index("\n\n\n", start)] + "\n"
    assert whole in data["content"]


async def test_named_file_comes_whole_first(clicky: Path, clock: Clock) -> None:
    runtime = Runtime(project=clicky, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data = await _load(c, task="termui output is garbled", paths=["clicky/termui.py"], budget_tokens=6000)
        first = data["items"][0]
        assert first["path"] == "clicky/termui.py" and first["mode"] == "full"
        assert (clicky / "clicky/termui.py").read_text() in data["content"]
        # a named file bigger than the whole budget: its most relevant whole definitions, not its outline
        data = await _load(c, task="the echo function", paths=["clicky/utils.py"], budget_tokens=800)
    runtime.close()
    first = data["items"][0]
    assert first["path"] == "clicky/utils.py" and first["mode"] == "definitions"
    assert "def echo(message=None" in data["content"] and "file.flush()" in data["content"]


async def test_reasons_are_specific_and_not_repeated(clicky: Path, clock: Clock) -> None:
    runtime = Runtime(project=clicky, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data = await _load(c, task="echo writes to the wrong stream in termui", budget_tokens=4000)
    runtime.close()
    whys = [i["why"] for i in data["items"]] + [o["why"] for o in data.get("left_out", [])]
    assert whys and all(len(w) <= 90 for w in whys), whys
    assert len(set(whys)) > 1, whys  # not one boilerplate reason on every item
    generic = ("related", "ranked for the task", "related by references to the top files", "less relevant")
    assert not any(w in generic or w.startswith("less relevant") for w in whys), whys
    assert "defines echo" in whys[0]  # which identifier matched
    # which edge: a file pulled in by the reference graph names the symbol and the file
    edges = [w for w in whys if " used by " in w or "uses " in w or "tests " in w]
    assert edges, whys
