"""Large values offloaded to content-addressed blobs and resolved on read."""

from __future__ import annotations

from typing import Any

import pytest

from agentplane.journal import (
    JournalError,
    JournalStore,
    NewEvent,
    canonical_json,
    sha256_hex,
    verify,
)

from .helpers import BIG_TEXT, new_run, recomputed_hash


class BlobsConformance:
    """Large values offloaded to content-addressed blobs and resolved on read."""

    # -- blobs --------------------------------------------------------------------------------

    async def test_large_value_is_offloaded_and_resolved(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await store.append("run-1", [NewEvent("tool.completed", data={"result": BIG_TEXT, "n": 1})])
        digest = sha256_hex(canonical_json(BIG_TEXT))
        raw = (await store.events("run-1", resolve_blobs=False))[-1]
        assert raw.data == {"result": {"$blob": digest}, "n": 1}
        assert raw.hash == recomputed_hash(raw)
        resolved = (await store.events("run-1"))[-1]
        assert resolved.data == {"result": BIG_TEXT, "n": 1}
        assert resolved.hash == raw.hash
        assert await store.get_blob(digest) == BIG_TEXT
        assert await store.blob_text(digest) == canonical_json(BIG_TEXT)

    async def test_large_structured_value_is_offloaded(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        rows = [{"城市": "北京", "i": i, "tags": ["a", "b"]} for i in range(200)]
        await store.append("run-1", [NewEvent("tool.completed", data={"rows": rows})])
        raw = (await store.events("run-1", resolve_blobs=False))[-1]
        assert raw.data == {"rows": {"$blob": sha256_hex(canonical_json(rows))}}
        assert (await store.events("run-1"))[-1].data == {"rows": rows}

    async def test_identical_values_share_one_blob(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        await store.append("run-1", [NewEvent("a", data={"x": BIG_TEXT}),
                                     NewEvent("b", data={"y": BIG_TEXT})])
        await store.append("run-2", [NewEvent("c", data={"z": BIG_TEXT})])
        refs = [e.data for e in (await store.events("run-1", resolve_blobs=False))[1:]]
        refs += [e.data for e in (await store.events("run-2", resolve_blobs=False))[1:]]
        digest = sha256_hex(canonical_json(BIG_TEXT))
        assert refs == [{"x": {"$blob": digest}}, {"y": {"$blob": digest}},
                        {"z": {"$blob": digest}}]
        assert await store.put_blob(BIG_TEXT) == digest
        assert await store.put_blob(BIG_TEXT) == digest
        assert (await verify(store)).ok

    async def test_put_blob_is_content_addressed(self, store: JournalStore) -> None:
        value = {"b": [1, 2, 3], "a": "日本語のテキスト", "c": {"z": None, "y": 1.5}}
        digest = await store.put_blob(value)
        assert digest == sha256_hex(canonical_json(value))
        assert await store.put_blob({"c": {"y": 1.5, "z": None}, "a": "日本語のテキスト",
                                     "b": [1, 2, 3]}) == digest  # key order does not matter
        assert await store.get_blob(digest) == value
        assert await store.blob_text(digest) == canonical_json(value)
        assert await store.put_blob([1]) != digest

    async def test_unknown_blob(self, store: JournalStore) -> None:
        assert await store.blob_text("f" * 64) is None
        with pytest.raises(JournalError, match="f" * 64):
            await store.get_blob("f" * 64)

    async def test_small_values_stay_inline(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        data = {"s": "x" * 100, "l": list(range(20)), "d": {"k": "v"}, "n": 10**12}
        await store.append("run-1", [NewEvent("note", data=data)])
        assert (await store.events("run-1", resolve_blobs=False))[-1].data == data

    async def test_value_shaped_like_blob_ref_round_trips(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        data: dict[str, Any] = {
            "looks_like_ref": {"$blob": "x"},
            "looks_like_real_ref": {"$blob": sha256_hex(canonical_json(BIG_TEXT))},
            "ref_plus": {"$blob": "y", "other": 1},
            "nested": {"inner": {"$blob": "z"}},
        }
        await store.append("run-1", [NewEvent("note", data=data)])
        assert (await store.events("run-1"))[-1].data == data
        assert (await verify(store)).ok

    async def test_large_run_input_round_trips(self, store: JournalStore) -> None:
        input = {"document": BIG_TEXT, "lang": "zh"}
        run = await new_run(store, "run-1", input=input)
        assert run.input == input
        assert (await store.require_run("run-1")).input == input
        assert (await store.events("run-1"))[0].data["input"] == input
        assert (await verify(store)).ok
