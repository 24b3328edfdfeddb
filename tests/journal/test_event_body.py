"""The bytes an event's hash covers: ``event_body`` (one orjson call, the data embedded as the
text it already is) gives exactly the bytes the previous release assembled field by field (the
reference, kept here), and, where orjson takes every value, those of one orjson call over the
whole body, on random events — unicode, integers beyond 64 bits, nested data, no usage, no step
key — so journals written before verify and journals written now verify with earlier code.
``stored_event_body`` (the audit's scan) gives the same bytes from the stored usage text.
``utc_text`` writes what ``isoformat`` wrote."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from agentplane.journal.events import (
    SCHEMA_VERSION,
    NewEvent,
    canonical_json,
    event_body,
    event_hash,
    seal,
    stored_event_body,
    utc_now,
    utc_text,
)


def _previous_body(*, run_id: str, seq: int, time: str, type: str, actor: str,
                   step_key: str | None, data_json: str, usage: dict[str, int] | None,
                   prev_hash: str, schema: int) -> str:
    """The body as the previous release assembled it, field by field: the reference."""
    def s(value: str | None) -> str:
        return "null" if value is None else orjson.dumps(value).decode()

    return (f'{{"actor":{s(actor)},"data":{data_json},"prev_hash":{s(prev_hash)},'
            f'"run_id":{s(run_id)},"schema":{int(schema)},"seq":{int(seq)},'
            f'"step_key":{s(step_key)},"time":{s(time)},"type":{s(type)},'
            f'"usage":{"null" if usage is None else canonical_json(usage)}}}')


TEXTS = ["", "x", "agent:a", "审计", "é✓ \u2028 \x00 \x1f \"quoted\" \\ back", "a" * 300, "😀",
         "run-é", "tool.completed", "</script>"]
LEAVES: list[Any] = [*TEXTS, 0, -1, 7, 2**63 - 1, -(2**63), 2**64, -(2**70), 3.25, 1e-7,
                     1e308, -0.0, True, False, None]


def _value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth == 0 or roll < 0.4:
        return rng.choice(LEAVES)
    if roll < 0.7:
        return [_value(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {rng.choice(TEXTS) + str(i): _value(rng, depth - 1) for i in range(rng.randrange(4))}


def _fields(rng: random.Random) -> dict[str, Any]:
    usage = rng.choice([None, {}, {"output_tokens": 3, "input_tokens": 812},
                        {"input_tokens": 2**70, "cached_input_tokens": 0},
                        {"b": rng.randrange(10**6), "a": rng.randrange(10**6)}])
    return {"run_id": rng.choice(TEXTS) or "r", "seq": rng.randrange(1, 10**9),
            "time": utc_text(rng.randrange(2 * 10**15)), "type": rng.choice(TEXTS),
            "actor": rng.choice(TEXTS), "step_key": rng.choice([None, *TEXTS]),
            "data": {f"k{i}{rng.choice(TEXTS)}": _value(rng, 3) for i in range(rng.randrange(6))},
            "usage": usage, "prev_hash": rng.choice(["0" * 64, hashlib.sha256(b"x").hexdigest()]),
            "schema": rng.choice([SCHEMA_VERSION, 1, 2])}


@pytest.mark.parametrize("seed", range(4))
def test_event_body_is_the_canonical_bytes(seed: int) -> None:
    rng = random.Random(seed)
    fallbacks = 0
    for _ in range(500):
        fields = _fields(rng)
        data_json = canonical_json(fields["data"])
        rest = {k: v for k, v in fields.items() if k != "data"}
        body = event_body(data_json=data_json, **rest)
        assert body == _previous_body(data_json=data_json, **rest).encode()
        assert event_hash(**fields) == hashlib.sha256(body).hexdigest()
        # what the audit's scan hashes: the stored usage text embedded as it is
        usage = rest.pop("usage")
        assert stored_event_body(data_json=data_json, usage_json=None if usage is None
                                 else canonical_json(usage), **rest) == body
        fallbacks += fields["usage"] is not None and any(
            v >= 2**63 for v in fields["usage"].values())
        try:  # the whole body in one orjson call, when orjson takes every value
            whole = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            continue
        assert body == whole
    assert fallbacks > 0  # the orjson-refused path was taken too


def test_hashes_are_those_earlier_releases_wrote() -> None:
    """Digests computed with the code of the previous release (the string-assembled body)."""
    assert event_hash(
        run_id="run-é", seq=3, time="2026-01-31T12:00:00.000001Z", type="model.completed",
        actor="agent:a", step_key="s/1",
        data={"b": [1, 2.5, None, {"z": "审计", "a": True}], "a": 'x"y'},
        usage={"output_tokens": 2, "input_tokens": 2**70}, prev_hash="0" * 64, schema=1,
    ) == "7de32dfe7872a95ee062da0fbef4108345e6cb9eb41c3866f0af74daa1bd7ff3"
    assert event_hash(
        run_id="r", seq=1, time="2026-01-31T12:00:00.000001Z", type="run.created",
        actor="system", step_key=None, data={}, usage=None, prev_hash="0" * 64, schema=1,
    ) == "a8d1a0ec01830ecfa049feb985ca5829382296ddeac8c964d9d690e64bce4c5d"


def test_seal_hashes_the_body() -> None:
    new = NewEvent("model.completed", actor="agent:é", step_key="k", data={"x": [1, "审"]},
                   usage={"input_tokens": 5, "output_tokens": 1})
    event = seal("run-1", 4, "0" * 64, new, new.data, canonical_json(new.data))
    assert event.hash == event_hash(
        run_id="run-1", seq=4, time=event.time, type=new.type, actor=new.actor,
        step_key=new.step_key, data=new.data, usage=new.usage, prev_hash="0" * 64,
        schema=SCHEMA_VERSION)


def test_text_orjson_refuses_raises_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        event_body(run_id="r", seq=1, time="t", type="x", actor="a", step_key=None,
                   data_json='{"a":"\udc80"}', usage=None, prev_hash="0" * 64, schema=1)


def _isoformat(micros: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def test_utc_text_is_isoformat() -> None:
    rng = random.Random(7)
    second = 1_800_000_000 * 10**6
    samples = [0, 999_999, 1_000_000, second, second + 999_999, second - 1,
               *(rng.randrange(4 * 10**15) for _ in range(3000)),
               *(second + rng.randrange(3 * 10**6) for _ in range(3000))]
    for micros in samples:
        assert utc_text(micros) == _isoformat(micros), micros


def test_utc_now_is_now() -> None:
    before = datetime.now(UTC)
    now = datetime.fromisoformat(utc_now().replace("Z", "+00:00"))
    after = datetime.now(UTC)
    assert before <= now <= after
