"""Stores of growing size, built by ``idnode import``, resolve every sampled identifier to its own values.

Only correctness here; how fast resolution stays as the store grows is the benchmark's business
(``python -m loadtests.scale``). The long form, 100,000 against 10,000,000 identifiers, runs the
benchmark itself and checks its acceptance figure (IDNODE_SLOW=1; minutes, and ~10 GB of disk).
"""

from __future__ import annotations

import pytest

from loadtests import scale


@pytest.mark.parametrize("n", [20_000, 200_000])
def test_every_sampled_identifier_resolves_in_an_imported_store(tmp_path, n):
    facts = scale.build(tmp_path / "store", n, tmp_path)
    assert facts["dbs"]["handles"]["entries"] == n + 2  # and the prefix handles 0.NA/88.101, 0.NA/88.101.5
    assert scale.check(tmp_path / "store", n, 5_000) == 5_000
    # The benchmark's own measuring path runs on it (its figures are not judged here).
    got = scale.measure(tmp_path / "store", n, "uniform", 2_000, 1, seed=3)
    assert len(got["rates"]) == 1 and got["rates"][0] > 0


@pytest.mark.slow
def test_resolution_at_10_million_keeps_its_speed_at_100_thousand(tmp_path):
    a = scale.parse_args(["--sizes", "100000,10000000", "--runs", "3", "--work", str(tmp_path)])
    facts, rates, _ = scale.scale(a, [100_000, 10_000_000], tmp_path)
    assert facts[10_000_000]["dbs"]["handles"]["entries"] == 10_000_002
    for mode in scale.MODES:
        ratio = scale.median(rates[10_000_000, mode]) / scale.median(rates[100_000, mode])
        assert ratio >= 0.9, f"{mode}: resolution at 10M runs at {ratio:.2f}x its speed at 100k"
