"""The README, word for word: every command block marked ``<!-- readme-test -->`` is run, in order, by
bash against a real node started as the README starts one (`make run ADMIN_SECRET=change-me-admin`:
prefix 88.101, that admin secret), and each command's output must be what the README shows.

A block's ``$ `` lines are commands (a command goes on while a line ends in ``\\`` or a quote is
open); the lines up to the next command are its output. Output that is JSON is compared as JSON,
without the fields that differ on each run (times); any other output is compared as text. A command
shown with no output has to succeed (an answer's
responseCode 1). The README's address, 127.0.0.1:8000, becomes the test
node's.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.nodes import REPO, Node, idnode

README = REPO / "README.md"
MARK = "<!-- readme-test -->"
VOLATILE = {"created", "updated", "timestamp"}


def blocks(text: str) -> list[tuple[int, list[str]]]:
    """(line number, lines) of each marked ```sh block."""
    lines = text.splitlines()
    out = []
    for n, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        start = n + 1
        assert lines[start].startswith("```sh"), f"README.md:{start + 1}: {MARK} must come right before a ```sh block"
        end = lines.index("```", start + 1)
        out.append((start + 1, lines[start + 1:end]))
    return out


def commands(block: list[str]) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a block."""
    out: list[tuple[str, str]] = []
    cmd: list[str] | None = None
    shown: list[str] = []
    for line in block:
        if cmd is not None and _open("\n".join(cmd)):
            cmd.append(line)
            continue
        if line.startswith("$ "):
            if cmd is not None:
                out.append(("\n".join(cmd), "\n".join(shown)))
            cmd, shown = [line[2:]], []
        else:
            assert cmd is not None, f"output before any command: {line!r}"
            shown.append(line)
    if cmd is not None:
        out.append(("\n".join(cmd), "\n".join(shown)))
    return out


def _open(cmd: str) -> bool:
    """Whether the command goes on on the next line: a trailing backslash, or an open quote."""
    return cmd.endswith("\\") or cmd.count("'") % 2 == 1


def without_volatile(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: without_volatile(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [without_volatile(v) for v in doc]
    return doc


def test_the_parser_reads_commands_and_their_output():
    pairs = commands(["$ curl -s -X POST x \\", "    -d '{\"a\":", "      1}'", '{"responseCode":1,', ' "b":2}',
                      "$ true"])
    assert pairs == [("curl -s -X POST x \\\n    -d '{\"a\":\n      1}'", '{"responseCode":1,\n "b":2}'),
                     ("true", "")]


@pytest.fixture(scope="module")
def readme_node(tmp_path_factory):
    data = tmp_path_factory.mktemp("readme") / "data"
    idnode("init", "--data", str(data), "--prefix", "88.101", "--admin-secret", "change-me-admin")
    node = Node(data).start()
    yield node
    node.stop()


def test_readme_commands_do_what_the_readme_shows(readme_node):
    found = blocks(README.read_text())
    assert len(found) >= 4, "the README's tour blocks lost their readme-test marks"
    address = readme_node.url.removeprefix("http://")
    for line, block in found:
        for cmd, shown in commands(block):
            run = cmd.replace("127.0.0.1:8000", address)
            p = subprocess.run(["bash", "-o", "pipefail", "-c", run], cwd=REPO, capture_output=True, text=True,
                               timeout=30)
            where = f"README.md:{line}: {cmd.splitlines()[0]}"
            assert p.returncode == 0, f"{where}\nexit {p.returncode}: {p.stderr}"
            if not shown:  # nothing shown: it must still have succeeded, not answered an error
                try:
                    answer = json.loads(p.stdout)
                except ValueError:
                    continue
                assert not isinstance(answer, dict) or answer.get("responseCode", 1) == 1, f"{where}\n{p.stdout}"
                continue
            got = p.stdout.replace(address, "127.0.0.1:8000").strip()
            try:
                want = json.loads(shown)
            except ValueError:
                assert got == shown.strip(), f"{where}\nREADME shows:\n{shown}\nthe node answered:\n{got}"
                continue
            assert without_volatile(json.loads(got)) == without_volatile(want), \
                f"{where}\nREADME shows:\n{shown}\nthe node answered:\n{got}"


def test_every_curl_in_the_readme_that_needs_globbing_off_has_it():
    """`[` and `]` in a URL are curl's ranges: a scanner code (`]d2…`) needs -g to be sent as written."""
    for n, line in enumerate(README.read_text().splitlines(), 1):
        if "curl" in line and re.search(r"https?://\S*[\[\]]", line):
            assert " -g" in line, f"README.md:{n}: {line.strip()}"
