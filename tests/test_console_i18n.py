"""The message catalogue and the time format of the pages: every key in both languages, every key a
template names in the catalogue, the reader's language chosen as a browser asks, times in their zone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resolver.http.console.i18n import BIZ_STEPS, DISPOSITIONS, LANGS, MESSAGES, Catalogue, pick
from resolver.http.console.timefmt import readable

TEMPLATES = Path(__file__).parent.parent / "resolver" / "http" / "console" / "templates"


def test_every_message_has_every_language():
    for table in (MESSAGES, BIZ_STEPS, DISPOSITIONS):
        for key, texts in table.items():
            assert len(texts) == len(LANGS) and all(texts), key


def test_every_key_a_template_names_is_in_the_catalogue():
    named = set()
    for f in TEMPLATES.glob("*.html"):
        named |= set(re.findall(r"""\bt\(['"]([\w.]+)['"]\s*[,)]""", f.read_text()))
    assert named and named <= set(MESSAGES), named - set(MESSAGES)
    # the keys a template builds: the audit trail's filters, the trace state's fields
    from resolver.http.console.operator import SHOWN_FILTERS

    built = {f"audit.{n}" for n in SHOWN_FILTERS} | {f"state.{k}" for k in ("disposition", "location", "container",
                                                                               "lastEvent")}
    assert built <= set(MESSAGES), built - set(MESSAGES)


@pytest.mark.parametrize(("accept", "override", "lang"), [
    (None, None, "zh"), ("en-US,en;q=0.9", None, "en"), ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
    ("fr,en;q=0.5,zh;q=0.8", None, "zh"), ("fr,de", None, "zh"), ("en;q=0", None, "zh"),
    ("zh-CN", "en", "en"), ("en", "zh-Hans", "zh"), ("en", "xx", "en"), ("q=;;,,", None, "zh"),
])
def test_the_readers_language(accept, override, lang):
    assert pick(accept, override) == lang


def test_cbv_words_translated_and_unknown_ones_kept():
    zh, en = Catalogue("zh"), Catalogue("en")
    assert zh.step("shipping") == "发货" and en.step("shipping") == "Shipped"
    assert zh.disposition("in_transit") == "运输中" and en.disposition("in_transit") == "in transit"
    assert zh.step("urn:acme:bizstep:painting") == "urn:acme:bizstep:painting"


def test_times_in_the_events_own_zone():
    assert readable("2026-03-02T08:00:00.000Z", "+08:00", "zh") == "2026年3月2日 16:00（UTC+08:00）"
    assert readable("2026-03-02T08:00:00.000Z", "-05:30", "en") == "2 Mar 2026, 02:30 (UTC-05:30)"
    assert readable("2026-03-02T08:00:00.000Z", None, "en") == "2 Mar 2026, 08:00 (UTC)"
    assert readable("2026-03-02T08:00:00.000Z", "+99:00", "en") == "2 Mar 2026, 08:00 (UTC)"
    assert readable("not a time", "+08:00", "zh") == "not a time"
