"""Stores of growing size, built by ``idnode import``, resolve every sampled identifier to its own values.

Only correctness here; how fast resolution stays as the store grows is the benchmark's business
(``python -m loadtests.scale``, figures in the README). CI builds 20,000; the long form (IDNODE_SLOW=1)
adds 200,000 and 10,000,000 identifiers (about five minutes, and 7 GB of disk).
"""

from __future__ import annotations

import pytest

from loadtests import scale


@pytest.mark.parametrize("n", [20_000, pytest.param(200_000, marks=pytest.mark.slow)])
def test_every_sampled_identifier_resolves_in_an_imported_store(tmp_path, n):
    facts = scale.build(tmp_path / "store", n, tmp_path)
    assert facts["dbs"]["handles"]["entries"] == n + 2  # and the prefix handles 0.NA/88.101, 0.NA/88.101.5
    assert scale.check(tmp_path / "store", n, 5_000) == 5_000
    # The benchmark's own measuring path runs on it (its figures are not judged here).
    got = scale.measure(tmp_path / "store", n, "uniform", 2_000, 1, seed=3)
    assert len(got["rates"]) == 1 and got["rates"][0] > 0


@pytest.mark.slow
def test_every_sampled_identifier_resolves_in_a_store_of_10_million(tmp_path):
    n = 10_000_000
    facts = scale.build(tmp_path / "store", n, tmp_path)
    assert facts["dbs"]["handles"]["entries"] == n + 2
    assert scale.check(tmp_path / "store", n, 50_000) == 50_000
