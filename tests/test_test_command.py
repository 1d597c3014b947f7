"""The test command the README gives is the one CI runs: .ci/run calls `make test`, and the Makefile's
`test` target runs the two passes the README shows (xdist workers, then the tests marked serial)."""

from __future__ import annotations

import re

from tests.nodes import REPO

PARALLEL = "-m pytest -n 2 --dist loadscope -m 'not serial'"
SERIAL = "-m pytest -m serial"


def recipe(target: str) -> list[str]:
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}: $("))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return body


def test_ci_runs_make_test():
    run = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert run[-1].startswith("make test"), run[-1]


def test_make_test_runs_the_two_passes_the_readme_shows():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^TEST_JOBS \?= 2$", makefile, re.M)
    body = [line.replace("$(BIN)/python", "").replace("$(TEST_JOBS)", "2") for line in recipe("test")]
    parallel = next(i for i, line in enumerate(body) if PARALLEL in line)
    serial = next(i for i, line in enumerate(body) if SERIAL in line)
    assert parallel < serial, body
    readme = (REPO / "README.md").read_text()
    assert "make test   #" in readme  # the "Two commands" section
    assert f".venv/bin/python {PARALLEL}" in readme and f".venv/bin/python {SERIAL}" in readme


def test_the_serial_mark_is_registered():
    assert '"serial:' in (REPO / "pyproject.toml").read_text()
