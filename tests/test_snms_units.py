"""The SNMS codecs without a node: the dated login's days, templates mapped both ways, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocol import snms
from protocol import snms_templates as st
from protocol.codes import RC, HandleError
from protocol.templates import parse_template
from resolver.service.dated_login import login_days


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_the_login_day_is_china_standard_time_with_the_adjacent_day_near_midnight():
    assert login_days(epoch("2026-12-03T12:00:00")) == ["2026-12-03"]  # 20:00 in Beijing
    assert login_days(epoch("2026-12-03T16:30:00")) == ["2026-12-04"]  # 00:30 the next day there
    assert login_days(epoch("2026-12-03T15:58:00")) == ["2026-12-03", "2026-12-04"]  # 23:58
    assert login_days(epoch("2026-12-03T16:02:00")) == ["2026-12-04", "2026-12-03"]  # 00:02


def test_a_dated_digest_matches_in_either_case_and_only_for_its_day():
    d = snms.dated_password("123456", "2019-08-15")
    assert snms.dated_password_matches("123456", d.upper(), ["2019-08-14", "2019-08-15"])
    assert not snms.dated_password_matches("123456", d, ["2019-08-16"])
    assert not snms.dated_password_matches("12345", d, ["2019-08-15"])


@pytest.mark.parametrize("username,identity", [("88.101.5", (300, "0.NA/88.101.5")),
                                               ("300:0.NA/88.101.5", (300, "0.NA/88.101.5")),
                                               ("301:88.101.5/app", (301, "88.101.5/app"))])
def test_user_names_name_identities(username, identity):
    assert snms.identity_of(username) == identity


@pytest.mark.parametrize("username", ["x:0.NA/88.101.5", "88.101.5/app", "a b"])
def test_other_user_names_are_a_wrong_login(username):
    with pytest.raises(snms.SnmsError) as e:
        snms.identity_of(username)
    assert snms.reason(e.value) == (snms.FAILURE, snms.WRONG_LOGIN)


V3 = {"prefix": "88.101.5", "version": "1.0", "industryCategory": "C", "industrySpecific": "34",
      "industryTrade": "344", "industrySubclass": "3441", "type": 2,
      "items": [{"name": "名称", "idType": "name", "metadata": {"minLength": 1, "maxLength": 8}},
                {"name": "型号", "idType": "model", "required": True, "metadata": {"minLength": 0, "maxLength": 4}}]}


def test_a_v3_template_takes_indexes_from_2000_and_reads_back_the_same():
    tpl = {"prefix": "88.101.5", **parse_template(st.from_snms(V3, v5=False))}
    assert [(f["type"], f["index"]) for f in tpl["fields"]] == [("name", 2000), ("model", 2001)]
    back = st.to_snms(tpl, v5=False)
    assert {k: back[k] for k in V3 if k != "items"} == {k: V3[k] for k in V3 if k != "items"}
    assert [i["idType"] for i in back["items"]] == ["name", "model"] and "idIndex" not in back["items"][0]


def test_a_revision_changes_named_fields_adds_new_ones_and_keeps_the_rest():
    old = {"prefix": "88.101.5", **parse_template(st.from_snms(V3, v5=False))}
    body = {**V3, "items": [{"name": "名称", "idType": "name", "idIndex": 2000, "state": 0,
                             "metadata": {"minLength": 1, "maxLength": 8}},
                            {"name": "颜色", "idType": "color", "metadata": {"minLength": 1, "maxLength": 8}}]}
    new = parse_template(st.revise(old, body))
    assert [(f["type"], f["index"], f.get("state", 1)) for f in new["fields"]] == [
        ("name", 2000, 0), ("model", 2001, 1), ("color", 2002, 1)]
    taken = {**body, "items": [{"name": "x", "idType": "other", "idIndex": 2001,
                                "metadata": {"minLength": 1, "maxLength": 8}}]}
    with pytest.raises(snms.SnmsError, match="2001已被属性model使用"):
        st.revise(old, taken)


@pytest.mark.parametrize("change,field", [({"industryCategory": "Z"}, "industryCategory"),
                                          ({"industryTrade": "351"}, "industryTrade"),
                                          ({"industrySubclass": "3451"}, "industrySubclass")])
def test_industry_codes_are_gbt_4754_levels_within_each_other(change, field):
    with pytest.raises(HandleError) as e:
        parse_template(st.from_snms({**V3, **change}, v5=False))
    assert e.value.field == field


@pytest.mark.parametrize("body,message", [
    ({**V3, "type": 3}, "type必须为1(主动标识载体)或2(其他)"),
    ({**V3, "items": [{"name": "n", "idType": "t", "metadata": {"type": "String", "minLength": 1, "maxLength": 2}}]},
     "items[0].metadata.type必须为小写string"),
    ({**V3, "items": [{"name": "n", "idType": "t", "idIndex": 1999, "metadata": {"minLength": 1, "maxLength": 2}}]},
     "items[0].idIndex需要从2000开始"),
    ({k: v for k, v in V3.items() if k != "industryTrade"}, "缺少必要的请求参数: industryTrade")])
def test_template_bodies_are_refused_in_the_documentations_words(body, message):
    with pytest.raises(snms.SnmsError) as e:
        st.from_snms(body, v5=True)
    assert e.value.message == message


def test_the_nodes_refusals_become_the_documented_statuses():
    assert snms.reason(HandleError(RC.NOT_AUTHORIZED, "x")) == (-3, "没有权限")
    assert snms.reason(HandleError(RC.AUTHENTICATION_NEEDED, "x")) == (-1, "没有登录，需要验证")
    assert snms.reason(HandleError(RC.HANDLE_ALREADY_EXISTS, "x")) == (-2, "标识已存在")
    assert snms.reason(HandleError(RC.HANDLE_NOT_FOUND, "x")) == (-2, "没有找到标识")
    assert snms.reason(HandleError(RC.HANDLE_NOT_FOUND, "x"), batch_item=True) == (-2, "标识不存在")
    assert snms.reason(HandleError(RC.ERROR, "x")) == (-4, "系统内部错误")


def test_a_batch_over_2000_is_refused_before_any_item_is_read():
    with pytest.raises(snms.SnmsError, match="最多支持2000条，本次2001条"):
        snms.decode_deletes(b"[" + b",".join([b'"88.101.5/a"'] * 2001) + b"]", 0)


def test_the_fast_batch_decoder_gives_what_the_exact_one_gives(monkeypatch):
    body = [{"handle": f"88.101.5/S-{i}", "templateVersion": "1.0", "value": [
        {"index": 2000 + j, "type": f"t{j}", "auth": "", "data": {"format": "string", "value": f"值{i}-{j}"}}
        for j in range(3)]} for i in range(50)]
    raw = __import__("orjson").dumps(body)
    fast = snms.decode_records(raw, "create", 7)
    monkeypatch.setattr(snms, "_fast", lambda *a: None)
    assert fast == snms.decode_records(raw, "create", 7)
    # A mistake anywhere sends the body the exact way, which names the item.
    body[3]["value"][0]["index"] = 1001
    monkeypatch.undo()
    out = snms.decode_records(__import__("orjson").dumps(body), "create", 7)
    assert isinstance(out[3], snms.Rejected) and out[3].error.message == "非法操作，索引1001为预留索引"


def test_the_bench_sends_the_same_records_through_both_apis():
    """loadtests/snmsbench.py compares SNMS batchCreate with /api/batch: both bodies are the same work."""
    from loadtests.snmsload import bodies
    from protocol.batchjson import decode_batch

    ours = snms.decode_records(bodies("snms", "K", 30, 30)[0], "create", 5)
    theirs = decode_batch(bodies("batch", "K", 30, 30)[0], 5)
    assert [(o.op, o.handle, o.values, o.template) for o in ours] == [
        (o.op, o.handle, o.values, o.template) for o in theirs]
