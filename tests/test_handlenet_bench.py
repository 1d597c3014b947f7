"""The Handle.Net side-by-side bench's pure parts (no Handle.Net needed): the setup answers, the config edit,
the warm-up stop rule, the summary table."""

from __future__ import annotations

import pytest

from loadtests import handlenet

SETUP_CONFIG = """{
  "server_config" = {
    "server_admins" = (
      "300:0.NA/YOUR_PREFIX"
    )
    "replication_admins" = (
      "300:0.NA/YOUR_PREFIX"
    )
    "auto_homed_prefixes" = (
      "0.NA/YOUR_PREFIX"
    )
  }
}
"""


def test_loopback_config_homes_the_prefix_and_names_the_bench_admin():
    out = handlenet.loopback_config(SETUP_CONFIG)
    assert "YOUR_PREFIX" not in out
    assert out.count('"300:88.101.5/ADMIN"') == 2  # server and replication admin
    assert '"0.NA/88.101.5"' in out  # homed here
    assert '"allow_na_admins" = "no"' in out  # no lookup of 0.NA/88.101.5 at the global root
    assert out.index('"allow_na_admins"') > out.index('"server_config" = {')


def test_loopback_config_refuses_a_file_it_does_not_know():
    with pytest.raises(ValueError, match="hdl-setup-server"):
        handlenet.loopback_config('{ "server_config" = { } }')


def test_setup_answers_put_the_ports_where_the_questions_are():
    lines = handlenet.setup_answers(22641, 28000).splitlines()
    assert lines[:6] == ["y", "n", "10.1.2.3", "127.0.0.1", "22641", "28000"]
    assert "bench@example.org" in lines


@pytest.mark.parametrize(("rates", "done"), [
    ([], False),
    ([100.0, 200.0, 300.0], False),  # too few runs to judge
    ([100.0, 200.0, 300.0, 400.0], False),  # still rising
    ([100.0, 300.0, 305.0, 290.0], True),  # two runs within 3 % of the best before them
    ([100.0, 300.0, 250.0, 400.0], False),  # one flat run, then a rise: not yet
    ([100.0, 300.0, 250.0, 260.0], True),  # fell back
])
def test_warmed_stops_when_the_rate_stops_rising(rates, done):
    assert handlenet.warmed(rates) is done


def test_table_gives_ratios_and_dashes_for_missing_figures():
    out = handlenet.table([("UDP", 30_000.0, 15_000.0, "", " (p99 2 ms)"), ("TCP", float("nan"), 1.0, "", "")])
    lines = out.splitlines()
    assert lines[0].startswith("| | idnode | Handle.Net 9.3.1 |")
    assert lines[2] == "| UDP | 30,000 | 15,000 (p99 2 ms) | 2.00 |"
    assert lines[3] == "| TCP | — | 1 | — |"


def test_percentile():
    assert handlenet.percentile([], 0.5) != handlenet.percentile([], 0.5)  # nan
    assert handlenet.percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 3.0
    assert handlenet.percentile([float(i) for i in range(100)], 0.99) == 99.0
