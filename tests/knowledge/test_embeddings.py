"""The embeddings client over real HTTP on loopback, and the vector table on both back-ends."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest

from agentplane.errors import ConfigError
from agentplane.knowledge.embeddings import EmbeddingError, Embeddings
from agentplane.knowledge.vectors import VectorError, VectorIndex, numpy_module, pack, unpack
from agentplane.storage import Database, open_database

from .embedding_server import MODEL, EmbeddingServer, hashed_ngram_embedding

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as running:
        yield running


def client(server: EmbeddingServer, **options: object) -> Embeddings:
    settings: dict[str, object] = {"backoff": 0.001, "max_attempts": 3, **options}
    return Embeddings(server.base_url, MODEL, **settings)  # type: ignore[arg-type]


def test_vectors_come_back_in_order_in_batches(server: EmbeddingServer) -> None:
    texts = [f"text number {n} 第{n}段" for n in range(7)]
    vectors = client(server, batch_size=3).embed(texts)
    assert len(vectors) == len(texts)
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(hashed_ngram_embedding(text))
    assert [len(r.texts) for r in server.received] == [3, 3, 1]
    assert {r.model for r in server.received} == {MODEL}
    assert server.received[0].authorization is None
    assert client(server).embed([]) == [] and len(server.received) == 3


async def test_async_front_door_is_the_same(server: EmbeddingServer) -> None:
    texts = ["invoice approval", "发票审批", "refund"]
    assert await client(server, batch_size=2).aembed(texts) == client(server).embed(texts)


def test_500_then_success_is_retried(server: EmbeddingServer) -> None:
    server.fail(500)
    server.fail(429, retry_after=0.001)
    (vector,) = client(server).embed(["hello"])
    assert vector == pytest.approx(hashed_ngram_embedding("hello"))
    assert len(server.received) == 1  # the two failures were not served


async def test_async_retries_too(server: EmbeddingServer) -> None:
    server.fail(503)
    assert len(await client(server).aembed(["x y"])) == 1


def test_gives_up_after_max_attempts(server: EmbeddingServer) -> None:
    server.fail(502, times=3, message="upstream down")
    with pytest.raises(EmbeddingError, match=r"answered 502.*upstream down.*gave up after 3"):
        client(server).embed(["a"])


def test_unreachable_server_is_retried_then_reported() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    embeddings = Embeddings(f"http://127.0.0.1:{port}/v1", MODEL, backoff=0.001,
                            max_attempts=2)
    with pytest.raises(EmbeddingError, match=r"ConnectError.*gave up after 2 attempts"):
        embeddings.embed(["a"])


def test_401_names_the_variable_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddingServer(api_key="the-right-key") as server:
        monkeypatch.setenv("EMBED_KEY", KEY)
        embeddings = client(server, api_key_env="EMBED_KEY")
        with pytest.raises(EmbeddingError) as caught:
            embeddings.embed(["a"])
        message = str(caught.value)
        assert KEY not in message and KEY not in repr(caught.value)
        assert "401" in message and "EMBED_KEY" in message and "[redacted]" in message
        assert len(server.received) == 0  # refused, and not retried
        monkeypatch.setenv("EMBED_KEY", "the-right-key")
        assert len(embeddings.embed(["a"])) == 1
        assert server.received[0].authorization == "Bearer the-right-key"


def test_missing_key_and_bad_settings_are_config_errors(monkeypatch: pytest.MonkeyPatch,
                                                        server: EmbeddingServer) -> None:
    monkeypatch.delenv("NO_SUCH_EMBED_KEY", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_EMBED_KEY is not set"):
        client(server, api_key_env="NO_SUCH_EMBED_KEY").embed(["a"])
    with pytest.raises(ConfigError, match="not an http"):
        Embeddings("ftp://example/v1", MODEL)
    with pytest.raises(ConfigError, match="batch_size"):
        Embeddings(server.base_url, MODEL, batch_size=0)


def test_a_reply_of_the_wrong_shape_is_an_error(server: EmbeddingServer) -> None:
    server.fail(200)  # a JSON body without data
    with pytest.raises(EmbeddingError, match="expected data with 1 items, got no data list"):
        client(server).embed(["a"])
    with pytest.raises(EmbeddingError, match="answered 404"):
        Embeddings(server.base_url + "/nowhere", MODEL).embed(["a"])


def test_packed_vectors_round_trip() -> None:
    vector = [0.5, -0.25, 1.0, 3.0e-3]
    text = pack(vector)
    assert text.isascii() and list(unpack(text)) == pytest.approx(vector)


@pytest.fixture(params=["python", "numpy"])
def index(request: pytest.FixtureRequest, database: Database) -> VectorIndex:
    """The vector table, searched in pure Python and (when it is installed) with numpy."""
    if request.param == "numpy" and numpy_module() is None:
        pytest.skip("numpy is not installed")
    return VectorIndex(database, use_numpy=request.param == "numpy")


def test_vector_table_search_on_both_back_ends(index: VectorIndex, database_url: str) -> None:
    index.put("t1", "m", [("a", [1.0, 0.0, 0.0]), ("b", [0.7, 0.7, 0.0]),
                          ("c", [0.0, 0.0, 2.0])])
    index.put("t2", "m", [("z", [1.0, 0.0, 0.0])])
    found = index.search("t1", "m", [1.0, 0.1, 0.0], limit=2)
    assert [i for i, _ in found] == ["a", "b"]
    assert found[0][1] == pytest.approx(0.995, abs=1e-3)
    assert [i for i, _ in index.search("t1", "m", [1, 0, 0], among={"b", "c"})] == ["b", "c"]
    assert index.search("t1", "other-model", [1, 0, 0]) == []
    assert index.has("t1", "m") == {"a", "b", "c"}
    with pytest.raises(VectorError, match="2 dimensions"):
        index.search("t1", "m", [1.0, 0.0])
    with pytest.raises(VectorError, match="same length"):
        index.put("t1", "m", [("d", [1.0, 0.0])])
    with pytest.raises(VectorError, match="all-zero"):
        index.put("t1", "m", [("d", [0.0, 0.0, 0.0])])

    # Another process's writes are seen: its handle bumps the generation this one checks.
    other_db = open_database(database_url)
    try:
        other = VectorIndex(other_db)
        other.put("t1", "m", [("a", [0.0, 0.0, 1.0])])
        assert other.remove("t1", ["c"]) == 1
    finally:
        other_db.close()
    assert [i for i, _ in index.search("t1", "m", [0.0, 0.0, 1.0])][:1] == ["a"]
    assert index.has("t1", "m") == {"a", "b"}
    assert index.has("t2", "m") == {"z"}


def test_both_searches_agree_and_keep_the_best(index: VectorIndex) -> None:
    rng = random.Random(7)
    rows = [(f"c{n:03}", [rng.gauss(0, 1) for _ in range(16)]) for n in range(300)]
    index.put("t", "m", rows)
    query = [rng.gauss(0, 1) for _ in range(16)]
    pure = VectorIndex(index.db, use_numpy=False)
    assert pure._cache is index._cache  # one cache per database handle, keyed by how
    expected = pure.search("t", "m", query, limit=300)
    found = index.search("t", "m", query, limit=7)
    assert [i for i, _ in found] == [i for i, _ in expected[:7]]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected[:7]], abs=1e-5)
    among = {i for i, _ in expected[100:110]}
    assert [i for i, _ in index.search("t", "m", query, limit=3, among=among)] == [
        i for i, _ in expected[100:103]]
    assert index.search("t", "m", query, limit=3, among=set()) == []
