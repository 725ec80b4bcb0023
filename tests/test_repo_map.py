"""Tree-sitter outlines for every language the grammar wheels cover."""

from __future__ import annotations

import pytest

from factorops.tools.context import outline

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
