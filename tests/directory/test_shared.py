"""directory.usecases.shared: answer parts kept between requests, their JSON encoded once."""

from __future__ import annotations

import json

import orjson

from directory.usecases.pagination import envelope
from directory.usecases.shared import (
    KEPT_JSON_OVERHEAD,
    Extended,
    Joined,
    Kept,
    Shared,
    SharedList,
    Spliced,
    kept_json,
    members_json,
)
from directory.web import http


def test_a_shared_part_reads_as_the_dict_it_wraps():
    data = {"id": 7, "themes": [{"id": "vawg"}], "distance_m": None}
    part = Shared(data)
    assert part == data and dict(part) == data
    assert {**part, "extra": 1} == {**data, "extra": 1}
    assert part["themes"][0]["id"] == "vawg" and len(part) == 3 and list(part) == list(data)
    assert "Shared(" in repr(part)


def test_answers_with_shared_parts_serialise_as_if_they_were_plain():
    inner = Shared({"name": "Grant – £5k", "amount": 5000.5, "ok": True})
    body = {"services": [Shared({"id": 1, "inner": inner}), {"id": 2}], "funding": inner}
    expected = {"services": [{"id": 1, "inner": dict(inner)}, {"id": 2}], "funding": dict(inner)}
    assert json.loads(http.dumps(body)) == expected
    assert http.dumps(body) == orjson.dumps(expected)  # compact, byte for byte


def test_the_json_is_encoded_once_and_reused():
    part = Shared({"a": 1})
    first = part.json()
    assert part.json() is first
    part._data["a"] = 2  # a Shared part is never changed; if it were, the JSON would not follow
    assert json.loads(http.dumps({"p": part})) == {"p": {"a": 1}}


def test_a_part_kept_as_its_json_lets_its_dicts_go_and_reads_the_same():
    data = {"awards": 3, "contents": [{"id": 1, "title": "Grant – £5k"}], "limit": 50}
    part = Shared(data)
    size = kept_json(part)
    assert size == len(orjson.dumps(data)) + KEPT_JSON_OVERHEAD
    assert part._data is None  # only the bytes are held
    assert part == data and part["contents"][0]["title"] == "Grant – £5k" and len(part) == 3
    assert json.loads(http.dumps({"f": part})) == {"f": data}
    kept = Kept(limit=2 * size)  # two fit, by the JSON's size rather than the dicts'
    kept.keep("a", part, size)
    kept.keep("b", Shared(dict(data)), kept_json(Shared(dict(data))))
    assert set(kept) == {"a", "b"}


def test_the_fallbacks_still_take_shared_parts():
    # non-string keys (orjson's slower mode) and a lone surrogate (the standard library)
    keyed = {"by_year": {2024: 1}, "part": Shared({"x": 1})}
    assert json.loads(http.dumps(keyed)) == {"by_year": {"2024": 1}, "part": {"x": 1}}
    echoed = {"q": "\ud800", "part": Shared({"x": 1})}
    assert json.loads(http.dumps(echoed)) == {"q": "\ud800", "part": {"x": 1}}
    inside = {"part": Shared({"name": "bad \udc80 text"})}
    assert json.loads(http.dumps(inside)) == {"part": {"name": "bad \udc80 text"}}


def test_an_extended_part_is_its_base_and_extra_keys_spliced_byte_for_byte():
    base = {"id": 7, "name": "Grant – £5k", "sites": [{"lat": 51.5}]}
    extra = {"relations": [{"relation": "serves_ward", "area": Shared({"code": "E05"})}],
             "distance_m": None}  # fmt: skip
    part = Extended(orjson.dumps(base), extra)
    plain = {**base, "relations": [{"relation": "serves_ward", "area": {"code": "E05"}}],
             "distance_m": None}  # fmt: skip
    assert http.dumps({"s": [part]}) == orjson.dumps({"s": [plain]})
    assert dict(part) == {**base, **extra} and part["id"] == 7 and len(part) == 5
    assert list(part) == ["id", "name", "sites", "relations", "distance_m"]
    assert json.loads(http.dumps(Extended(b"{}", {"a": 1}))) == {"a": 1}
    assert json.loads(http.dumps(Extended(orjson.dumps(base), {}))) == base


def test_an_extended_part_takes_its_base_in_parts_joined_as_one():
    base = {"id": 7, "name": "Grant – £5k", "themes": [{"id": "vawg"}], "demo": False}
    whole = orjson.dumps(base)
    parts = (whole[:10], whole[10:25], whole[25:])
    extra = {"relations": ["site_nearby"], "distance_m": 120}
    plain = {**base, **extra}
    assert Extended(parts, extra).json() == Extended(whole, extra).json() == orjson.dumps(plain)
    assert dict(Extended(parts, extra)) == plain and Extended(parts, extra)["id"] == 7
    assert Extended(parts, {}).json() == whole
    # the extra keys given as their JSON already
    tail = orjson.dumps(extra)
    assert Extended(parts, None, tail).json() == orjson.dumps(plain)
    assert dict(Extended(parts, None, tail)) == plain


def test_an_answer_spliced_from_its_own_keys_and_kept_members_is_the_merged_dict():
    funding = Shared({"total": 5000.5, "rule": "Grant – £5k"})
    page = SharedList(orjson.dumps([{"id": 1}, {"id": 2}]), 2)
    rest = {
        "counts": {"services": 2},
        "funding": funding,
        "services": {"contents": page, "total_items": 2},
        "sort": "relation",
    }
    members = members_json(rest)
    pieces = members.pieces
    assert any(piece is funding.json() for piece in pieces)  # not copied
    assert members.own == sum(len(piece) for piece in pieces) - len(funding.json())
    assert list(members.at) == list(rest)
    head = {"postcode": "SE1 7PB", "ward": {"code": "E05", "name": "Bishop's"}}
    answer = Spliced(head, members)
    merged = {**head, **rest}
    assert http.dumps(answer) == http.dumps(merged)  # byte for byte, keys in the same order
    assert dict(answer) == {**head, **json.loads(http.dumps(rest))}
    assert list(answer) == list(merged) and len(answer) == 6 and "sort" in answer
    assert answer["services"]["contents"] == [{"id": 1}, {"id": 2}]  # that member alone
    assert answer["funding"] == dict(funding) and answer["ward"] is head["ward"]
    assert "missing" not in answer and "Spliced(" in repr(answer)
    # no keys of its own, or no kept members
    nothing = members_json({})
    assert Spliced({}, members).json() == http.dumps(rest)
    assert Spliced(head, nothing).json() == orjson.dumps(head)
    assert Spliced({}, nothing).json() == b"{}"


def test_a_services_answer_is_kept_in_parts_equal_ones_held_once():
    from directory.usecases.patch.index import SHARED_KEYS, _body_parts

    sites = [
        Shared({"ref": f"S{n}#site", "postcode": "KT1 1EU", "lat": 51.41, "demo": False})
        for n in (1, 2)
    ]

    def body(sid: int, themes: list[str], at: list[Shared]) -> dict[str, object]:
        return {
            "id": sid, "ref": f"S{sid}", "name": f"Service {sid} – £5k",
            "organisation": {"id": 3, "ref": "ORG", "name": "Org", "type": None},
            "themes": [{"id": t, "name": t.title()} for t in themes],
            "coverage": [{"code": "E09000021", "name": "Kingston upon Thames"}],
            "sites": at, "contact": {"email": None}, "eligibility": {"min_age": None},
            "last_verified": "2026-01-01", "demo": False, "url": f"/api/v1/services/{sid}",
        }  # fmt: skip

    def plain(answer: dict[str, object]) -> dict[str, object]:
        return {**answer, "sites": [dict(site) for site in answer["sites"]]}  # type: ignore[attr-defined]

    pool: dict[object, object] = {}
    one, two = body(1, ["vawg"], []), body(2, ["youth"], sites)
    first, second = _body_parts(one, pool), _body_parts(two, pool)
    # open: a patch splices its own keys after them; closed they are the whole answer
    assert orjson.loads(b"".join(first) + b"}") == plain(one)
    assert orjson.loads(b"".join(second) + b"}") == plain(two)
    # its own keys with the sites' opening, the sites (none; or site, comma, site), then
    # each group of shared keys (the first closing the sites)
    assert len(first) == 1 + len(SHARED_KEYS) and len(second) == 4 + len(SHARED_KEYS)
    assert second[1] is sites[0].json() and second[3] is sites[1].json()  # not copies
    assert first[-1] is second[-1] and first[-2] is second[-2] and first[-4] is second[-4]
    assert first[-3] != second[-3] and first[0] != second[0]  # the themes, its own keys
    spliced = Extended((*second, b"}"), {"relations": []}).json()
    assert orjson.loads(spliced) == {**plain(two), "relations": []}


def test_a_part_kept_in_parts_is_written_joined_and_read_as_its_dict():
    entry = orjson.dumps({"id": 7, "title": "Youth – £5k"})
    first = Joined((b'{"total":2,"contents":[', entry, b",", entry, b"]}"))
    second = Joined((b'{"total":1,"contents":[', entry, b"]}"))
    assert first._parts[1] is second._parts[1]  # held once
    assert first.json() == b'{"total":2,"contents":[' + entry + b"," + entry + b"]}"
    assert first["total"] == 2 and dict(second) == {"total": 1, "contents": [orjson.loads(entry)]}
    assert http.dumps({"awards": second}) == b'{"awards":' + second.json() + b"}"


def test_a_list_made_as_its_json_is_written_verbatim_and_read_as_its_items():
    items = [{"id": 1, "name": "Grant – £5k"}, {"id": 2, "relations": [{"relation": "ward"}]}]
    encoded = orjson.dumps(items)
    listed = SharedList(encoded, len(items))
    assert len(listed) == 2 and listed._items is None  # its length known without decoding
    page = envelope(listed, total_items=7, page=1, per_page=2)
    assert page["contents"] is listed and page["size"] == 2 and not page["empty"]
    assert listed._items is None
    body = {"services": page, "counts": {"services": 7}}
    assert http.dumps(body) == orjson.dumps({**body, "services": {**page, "contents": items}})
    assert listed == items and listed[1]["relations"][0]["relation"] == "ward"
    assert [item["id"] for item in listed] == [1, 2] and listed[-1] == items[-1]
    assert listed == SharedList(encoded, 2) and listed != items[:1] and listed != "x"
    assert "SharedList(" in repr(listed)
    # the fallbacks take it too: non-string keys, and a lone surrogate echoed from a query
    assert json.loads(http.dumps({"by_year": {2024: 1}, "page": listed})) == {
        "by_year": {"2024": 1}, "page": items
    }  # fmt: skip
    assert json.loads(http.dumps({"q": "\ud800", "page": listed}))["page"] == items
    empty = SharedList(b"[]", 0)
    assert envelope(empty, total_items=0, page=1, per_page=50)["empty"] and list(empty) == []
