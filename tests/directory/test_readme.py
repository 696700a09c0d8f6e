"""The README's curl examples answer as the README says, on the demo directory.

A newcomer's first requests are the README's: every ``curl`` line of its code blocks (a
line continued with ``\\`` joined to the next) and every inline `` `curl …` `` is asked of
the demo directory on both databases, and must answer 2xx. Left out, each for a reason the
test names: examples that need a key or a value an earlier line printed (``$KEY``,
``$ETAG``…), and what follows a write in its block (``/practice/1`` reads the note the
line before published); those are the write tests' (``test_writes.py``,
``test_feedback.py``, ``test_opportunities.py``, ``test_practice.py``). An example that
writes with no key (public feedback) is asked of a copy of the demo directory of its own.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from directory import create_app
from tests.conftest import BACKENDS, demo_copy

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCED = re.compile(r"^```[\w-]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"(?<!`)`(curl [^`\n]+)`")
_HOSTS = ("localhost:5000", "127.0.0.1:5000")
#: curl's options that take a value (the value is the next word)
_VALUED = {"-H", "-X", "-d", "-o", "-w", "-r", "-F", "--data", "--header", "--request"}
#: POSTs that only read (a list of postcodes asked at once)
_READING_POSTS = ("/api/v1/postcodes/lookup", "/api/v1/patch/lookup")


@dataclass
class Example:
    line: str
    method: str = "GET"
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    follow: bool = False
    left_out: str | None = None


def examples(text: str) -> list[Example]:
    """Every curl example of ``text`` (a README), parsed."""
    found = []
    for block in _FENCED.findall(text):
        written = False
        lines = iter(block.replace("\\\n", " ").splitlines())
        for line in lines:
            line = line.strip().removeprefix("$ ")
            if line.startswith("curl "):
                while not _closed(line):  # a quoted body over several lines
                    line += "\n" + next(lines)
                example = parse(line)
                if written and example.left_out is None:
                    example.left_out = "reads what a write before it in its block made"
                written = written or example.method not in ("GET", "HEAD")
                found.append(example)
    return found + [parse(line) for line in _INLINE.findall(text)]


def _closed(line: str) -> bool:
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return False
    return True


def parse(line: str) -> Example:
    """What ``line`` asks: its method, path and query, headers and body."""
    example = Example(line)
    words = shlex.split(line, comments=True)[1:]
    for stop in ("|", ">", ">>"):
        if stop in words:
            words = words[: words.index(stop)]
    url = None
    i = 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if word in _VALUED and i + 1 < len(words) else None
        if word in ("-X", "--request"):
            example.method = value or ""
        elif word in ("-H", "--header") and value:
            name, _, content = value.partition(":")
            example.headers[name.strip()] = content.strip()
        elif word in ("-d", "--data"):
            example.body = value
            if example.method == "GET":
                example.method = "POST"
        elif word == "-F":
            example.left_out = "uploads a file"
        elif word.startswith("-") and not word.startswith("--") and "L" in word:
            example.follow = True
        elif word.startswith("-") and "I" in word.lstrip("-") and not word.startswith("--"):
            example.method = "HEAD"
        elif value is None and any(host in word for host in _HOSTS):
            url = word
        i += 2 if value is not None else 1
    if "Authorization" in example.headers:
        example.left_out = "needs a key"
    if "$" in line:
        example.left_out = "needs a value an earlier line printed"
    if url is None:
        example.left_out = example.left_out or "asks no URL of the server"
        return example
    parts = urlsplit(url if "://" in url else "http://" + url)
    example.path = parts.path + (f"?{parts.query}" if parts.query else "")
    if example.method not in ("GET", "HEAD") and parts.path not in _READING_POSTS:
        example.left_out = example.left_out or "writes"
    return example


EXAMPLES = examples(README.read_text(encoding="utf-8"))
ASKED = [e for e in EXAMPLES if e.left_out is None]
WRITES = [e for e in EXAMPLES if e.left_out == "writes"]


def test_the_readme_examples_are_found() -> None:
    # the parser reads the README's examples, not nothing: every API tour section has some
    assert len(EXAMPLES) >= 90, len(EXAMPLES)
    assert len(ASKED) >= 75, [e.line for e in EXAMPLES if e.left_out]
    assert WRITES, "the public feedback example"
    for prefix in ("/api/v1/postcodes", "/api/v1/patch", "/api/v1/services", "/api/v1/ogc",
                   "/api/v1/hsds", "/api/v1/funding", "/api/v1/opportunities"):  # fmt: skip
        assert any(e.path.startswith(prefix) for e in ASKED), prefix


def test_examples_are_parsed_as_curl_reads_them() -> None:
    post = parse(
        "curl -s -X POST localhost:5000/api/v1/patch/lookup -H 'Content-Type: application/json'"
        """ -d '{"postcodes": ["KT1 1EU"]}'   # a caseload"""
    )
    assert (post.method, post.path, post.left_out) == ("POST", "/api/v1/patch/lookup", None)
    assert post.headers == {"Content-Type": "application/json"}
    assert post.body == '{"postcodes": ["KT1 1EU"]}'
    piped = parse("curl -sL 'localhost:5000/api/v1/grants?format=360giving' > mopac.json")
    assert (piped.path, piped.follow) == ("/api/v1/grants?format=360giving", True)
    assert parse("curl -sI http://127.0.0.1:5000/api/v1/status").method == "HEAD"
    assert parse("curl -s -X DELETE localhost:5000/api/v1/opportunities/x").left_out == "writes"
    assert parse('curl -H "Authorization: Bearer $KEY" localhost:5000/x').left_out
    block = examples(
        "```sh\ncurl -s localhost:5000/api/v1/practice \\\n  -d '{}'\n"
        "curl -s localhost:5000/api/v1/practice/1\n```\nthen `curl -s localhost:5000/api/v1/x`"
    )
    assert [(e.method, e.path, e.left_out) for e in block] == [
        ("POST", "/api/v1/practice", "writes"),
        ("GET", "/api/v1/practice/1", "reads what a write before it in its block made"),
        ("GET", "/api/v1/x", None),
    ]


def _id(example: Example) -> str:
    return " ".join(example.line.split()[2:])[:70]  # (after "curl -s")


def _ask(app: Flask, example: Example) -> None:
    client = app.test_client()
    response = client.open(
        example.path, method=example.method, headers=example.headers, data=example.body,
        follow_redirects=example.follow,
    )  # fmt: skip
    assert 200 <= response.status_code < 300, (
        example.line, response.status_code, response.get_data(as_text=True)[:500]
    )  # fmt: skip
    if example.method == "GET":
        assert response.get_data(), example.line


@pytest.mark.parametrize("example", ASKED, ids=[_id(e) for e in ASKED])
def test_a_readme_example_answers(shared_demo_app: Flask, example: Example) -> None:
    _ask(shared_demo_app, example)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("example", WRITES, ids=[_id(e) for e in WRITES])
def test_a_public_write_example_answers(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, example: Example
) -> None:
    app = create_app(demo_copy(request, backend, tmp_path))
    try:
        _ask(app, example)
    finally:
        app.extensions["directory"].db.dispose()
