"""OpenAIProvider against a real loopback server speaking the chat completions wire format."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from agentplane.models.base import (
    MalformedResponseError,
    Message,
    ModelError,
    ModelProvider,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolDefinition,
)
from agentplane.models.openai import OpenAIProvider

from .conftest import WEATHER, provider_factory
from .wire_servers import (
    WireServer,
    drop_connection,
    json_reply,
    openai_chunks,
    openai_completion,
    openai_error,
    openai_server,
    openai_stream,
    raw_reply,
    stall,
)

KEY = "sk-test-SECRET-0123456789abcdef"
USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
         "prompt_tokens_details": {"cached_tokens": 100},
         "completion_tokens_details": {"reasoning_tokens": 12}}


@pytest.fixture
def server() -> Iterator[WireServer]:
    with openai_server() as s:
        yield s


@pytest.fixture
async def make(server: WireServer, delays: list[float]) -> AsyncIterator[Any]:
    """Build providers for ``server``; all are closed after the test."""
    async for build in provider_factory(OpenAIProvider, base_url=server.url + "/v1", api_key=KEY):
        yield build


def ask(text: str = "Hi", tools: list[ToolDefinition] | None = None) -> ModelRequest:
    return ModelRequest(model="gpt-test", messages=[Message("user", text)], tools=tools or [])


async def test_plain_content(server: WireServer, make: Any) -> None:
    server.script(json_reply(openai_completion("Hello there.", usage=USAGE)))
    provider = make()
    assert isinstance(provider, ModelProvider)
    response = await provider.complete(ask())
    assert response == ModelResponse(content="Hello there.", model="gpt-test-2024",
                                     finish_reason="stop", usage=response.usage)
    [request] = server.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json == {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}


async def test_request_conversion(server: WireServer, make: Any) -> None:
    server.script(json_reply(openai_completion("ok")))
    call = ToolCall("call_1", "get_weather", {"city": "Paris"})
    request = ModelRequest(
        model="gpt-test", tools=[WEATHER], max_output_tokens=256, temperature=0.2,
        messages=[Message("system", "Be brief."), Message("user", "Weather in Paris?"),
                  Message("assistant", None, tool_calls=[call]),
                  Message("tool", "18°C, sunny", tool_call_id="call_1", name="get_weather")])
    await make(headers={"x-extra": "1"}).complete(request)
    [received] = server.received
    assert received.headers["x-extra"] == "1"
    assert received.json == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"}],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather of a city.",
            "parameters": WEATHER.parameters}}],
        "max_tokens": 256, "temperature": 0.2}


async def test_several_tool_calls(server: WireServer, make: Any) -> None:
    calls = [("call_a", "get_weather", ['{"city": "Paris"}']),
             ("call_b", "get_weather", ['{"city": "Oslo"}']),
             ("call_c", "now", [""])]
    server.script(json_reply(openai_completion(None, calls, finish_reason="tool_calls")))
    response = await make().complete(ask(tools=[WEATHER]))
    assert response.content is None
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == [ToolCall("call_a", "get_weather", {"city": "Paris"}),
                                   ToolCall("call_b", "get_weather", {"city": "Oslo"}),
                                   ToolCall("call_c", "now", {})]


@pytest.mark.parametrize(("raw", "why"), [
    ('{"city": "Par', "not valid JSON: Unterminated string"),
    ("{'city': 'Paris'}", "not valid JSON: Expecting property name"),
    ("[1, 2]", "not valid JSON: expected an object, got array"),
    ('"Paris"', "not valid JSON: expected an object, got str"),
])
async def test_malformed_tool_arguments_are_reported_not_raised(
    server: WireServer, make: Any, raw: str, why: str
) -> None:
    calls = [("call_bad", "get_weather", [raw]), ("call_ok", "get_weather", ['{"city": "Rome"}'])]
    server.script(json_reply(openai_completion(None, calls, finish_reason="tool_calls")))
    bad, ok = (await make().complete(ask())).tool_calls
    assert (bad.id, bad.name, bad.arguments, bad.raw_arguments) == (
        "call_bad", "get_weather", {}, raw)
    assert bad.error is not None
    assert bad.error.startswith("arguments are not valid JSON")
    assert why in bad.error
    assert ok == ToolCall("call_ok", "get_weather", {"city": "Rome"})


async def test_usage_with_cached_and_reasoning_tokens(server: WireServer, make: Any) -> None:
    server.script(json_reply(openai_completion("x", usage=USAGE)),
                  json_reply(openai_completion("x", usage={"prompt_tokens": 5})),
                  json_reply(openai_completion("x", usage={  # DeepSeek reports cache hits so
                      "prompt_tokens": 50, "completion_tokens": 2, "prompt_cache_hit_tokens": 40,
                      "prompt_tokens_details": None})),
                  json_reply(openai_completion("x", usage=None)))
    provider = make()
    usages = [(await provider.complete(ask())).usage.to_dict() for _ in range(4)]
    assert usages == [
        {"input_tokens": 120, "output_tokens": 30, "cached_input_tokens": 100,
         "reasoning_tokens": 12},
        {"input_tokens": 5, "output_tokens": 0, "cached_input_tokens": 0, "reasoning_tokens": 0},
        {"input_tokens": 50, "output_tokens": 2, "cached_input_tokens": 40, "reasoning_tokens": 0},
        {"input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0, "reasoning_tokens": 0}]


async def test_content_as_parts_and_refusal(server: WireServer, make: Any) -> None:
    parts = openai_completion(None)
    parts["choices"][0]["message"]["content"] = [{"type": "text", "text": "a"},
                                                 {"type": "text", "text": "b"}]
    refusal = openai_completion(None)
    refusal["choices"][0]["message"]["refusal"] = "I can't help with that."
    server.script(json_reply(parts), json_reply(refusal))
    provider = make()
    assert (await provider.complete(ask())).content == "ab"
    assert (await provider.complete(ask())).content == "I can't help with that."


# -- streaming ---------------------------------------------------------------------------------


async def test_stream_content_matches_non_streamed(server: WireServer, make: Any) -> None:
    pieces = ["Hel", "lo", " there", "."]
    server.script(openai_stream(openai_chunks(pieces, usage=USAGE)),
                  json_reply(openai_completion("Hello there.", usage=USAGE)))
    deltas: list[str] = []
    streamed = await make(stream=True).complete(ask(), on_text=deltas.append)
    plain = await make().complete(ask())
    assert deltas == pieces
    assert streamed == plain
    assert streamed.usage.cached_input_tokens == 100
    assert streamed.usage.reasoning_tokens == 12
    body = server.received[0].json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert server.received[0].headers["accept"] == "text/event-stream"
    assert "stream" not in server.received[1].json


async def test_stream_tool_calls_are_assembled(server: WireServer, make: Any) -> None:
    calls = [("call_a", "get_weather", ['{"ci', 'ty": ', '"Par', 'is"}']),
             ("call_b", "get_weather", ['{"city"', ': "Oslo"}']),
             ("call_c", "bad", ['{"oops', "'"])]
    server.script(openai_stream(openai_chunks(["Checking."], calls, USAGE, "tool_calls")),
                  json_reply(openai_completion("Checking.", calls, USAGE, "tool_calls")))
    deltas: list[str] = []
    streamed = await make(stream=True).complete(ask(tools=[WEATHER]), on_text=deltas.append)
    assert streamed == await make().complete(ask(tools=[WEATHER]))
    assert deltas == ["Checking."]
    assert [c.arguments for c in streamed.tool_calls] == [{"city": "Paris"}, {"city": "Oslo"}, {}]
    assert streamed.tool_calls[2].raw_arguments == "{\"oops'"
    assert streamed.finish_reason == "tool_calls"


async def test_stream_without_on_text_and_interleaved_tool_deltas(
    server: WireServer, make: Any
) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def call(index: int, **rest: Any) -> dict[str, Any]:
        return {"tool_calls": [{"index": index, **rest}]}

    chunks = [chunk(call(1, id="b", function={"name": "two", "arguments": ""})),
              chunk(call(0, id="a", function={"name": "one", "arguments": '{"x"'})),
              chunk(call(1, function={"arguments": '{"y": 2}'})),
              chunk(call(0, function={"arguments": ": 1}"})),
              chunk({}, "tool_calls")]
    server.script(openai_stream(chunks, done=False))  # some servers omit [DONE]
    response = await make(stream=True).complete(ask())
    assert response.tool_calls == [ToolCall("a", "one", {"x": 1}), ToolCall("b", "two", {"y": 2})]
    assert response.model == "m"


async def test_stream_answered_as_plain_json(server: WireServer, make: Any) -> None:
    server.script(json_reply(openai_completion("whole")))
    deltas: list[str] = []
    response = await make(stream=True).complete(ask(), on_text=deltas.append)
    assert (response.content, deltas) == ("whole", ["whole"])


async def test_stream_cut_before_text_is_retried(
    server: WireServer, make: Any, delays: list[float]
) -> None:
    chunks = openai_chunks(["a", "b"])
    server.script(openai_stream(chunks, drop_after_events=1), openai_stream(chunks))
    deltas: list[str] = []
    response = await make(stream=True).complete(ask(), on_text=deltas.append)
    assert (response.content, deltas, len(server.received), len(delays)) == ("ab", ["a", "b"], 2, 1)


async def test_stream_cut_after_text_is_not_retried(server: WireServer, make: Any) -> None:
    chunks = openai_chunks(["a", "b"])
    server.script(openai_stream(chunks, drop_after_events=2), openai_stream(chunks))
    deltas: list[str] = []
    with pytest.raises(ModelError) as info:
        await make(stream=True).complete(ask(), on_text=deltas.append)
    assert info.value.retryable
    assert "partial reply was discarded" in str(info.value)
    assert (deltas, len(server.received)) == (["a"], 1)


async def test_stream_ended_early_without_done(server: WireServer, make: Any) -> None:
    server.script(*[openai_stream(openai_chunks(["a"])[:1], done=False)] * 2)
    with pytest.raises(ModelError, match="ended the stream before the reply was complete"):
        await make(stream=True, max_retries=1).complete(ask())
    assert len(server.received) == 2


@pytest.mark.parametrize("data", ["{not json", "[1]", '{"choices": {"index": 0}}',
                                  '{"choices": [{"index": 0, "delta": "x"}]}'])
async def test_bad_stream_chunk(server: WireServer, make: Any, data: str) -> None:
    server.script(raw_reply(f"data: {data}\n\ndata: [DONE]\n\n", content_type="text/event-stream"))
    with pytest.raises(MalformedResponseError, match="stream chunk") as info:
        await make(stream=True).complete(ask())
    assert data[:5] in str(info.value)
    assert len(server.received) == 1


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "7"}, 7.0), ({"retry-after": "120"}, 20.0),
    ({"retry-after-ms": "250"}, 0.25), ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None)])
async def test_429_honours_retry_after(
    server: WireServer, make: Any, delays: list[float], headers: dict[str, str],
    expected: float | None
) -> None:
    server.script(openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded",
                               headers), json_reply(openai_completion("ok")))
    response = await make(backoff_max=20.0).complete(ask())
    assert response.content == "ok"
    assert len(server.received) == 2
    assert delays == [expected if expected is not None else 0.0]  # backoff_base=0


async def test_503_twice_then_success_with_growing_jittered_backoff(
    server: WireServer, make: Any, delays: list[float]
) -> None:
    server.script(openai_error(503, "overloaded", "server_error"), raw_reply("busy", 503),
                  json_reply(openai_completion("ok")))
    response = await make(backoff_base=1.0, backoff_max=30.0).complete(ask())
    assert response.content == "ok"
    assert len(server.received) == 3
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0


async def test_connection_dropped_then_success(
    server: WireServer, make: Any, delays: list[float]
) -> None:
    server.script(drop_connection(), json_reply(openai_completion("ok")))
    assert (await make().complete(ask())).content == "ok"
    assert (len(server.received), len(delays)) == (2, 1)


async def test_timeout_then_success(server: WireServer, make: Any) -> None:
    server.script(stall(), json_reply(openai_completion("ok")))
    assert (await make(timeout=0.5).complete(ask())).content == "ok"
    assert len(server.received) == 2


async def test_timeouts_exhausted(server: WireServer, make: Any) -> None:
    server.script(stall(), stall())
    with pytest.raises(ModelError) as info:
        await make(timeout=0.5, max_retries=1).complete(ask())
    assert info.value.retryable
    assert "did not answer within the 0.5s timeout" in str(info.value)
    assert "gave up after 2 attempts" in str(info.value)


async def test_retries_exhausted(server: WireServer, make: Any, delays: list[float]) -> None:
    server.script(*[openai_error(502, "upstream is down", "server_error")] * 4)
    with pytest.raises(ModelError) as info:
        await make(max_retries=3).complete(ask())
    error = info.value
    assert (error.retryable, error.status, type(error)) == (True, 502, ModelError)
    assert "gave up after 4 attempts" in str(error)
    assert f"{server.url}/v1/chat/completions" in str(error)
    assert "HTTP 502" in str(error)
    assert "upstream is down" in str(error)
    assert (len(server.received), len(delays)) == (4, 3)


async def test_unreachable_server_is_retried_then_reported(delays: list[float]) -> None:
    with openai_server() as gone:
        url = gone.url
    provider = OpenAIProvider(base_url=url + "/v1", api_key=KEY, max_retries=2, backoff_base=0)
    with pytest.raises(ModelError, match="could not reach") as info:
        await provider.complete(ask())
    await provider.aclose()
    assert info.value.retryable
    assert url in str(info.value)
    assert len(delays) == 2


@pytest.mark.parametrize(("status", "hint"), [
    (400, "check the model name 'gpt-test'"), (401, "check OPENAI_API_KEY"),
    (403, "may not use this model"), (404, "check the base URL"), (422, "rejected"),
    (418, "unexpected status")])
async def test_client_errors_fail_at_once(
    server: WireServer, make: Any, status: int, hint: str
) -> None:
    server.script(openai_error(status, f"Incorrect API key provided: {KEY}."),
                  json_reply(openai_completion("never")))
    with pytest.raises(ModelError) as info:
        await make().complete(ask())
    assert (info.value.retryable, info.value.status) == (False, status)
    assert hint in str(info.value)
    assert f"HTTP {status}" in str(info.value)
    assert "Incorrect API key provided: [redacted]" in str(info.value)
    assert KEY not in str(info.value)
    assert len(server.received) == 1


async def test_401_without_key_says_to_set_it(server: WireServer, make: Any) -> None:
    server.script(openai_error(401, "You didn't provide an API key."))
    with pytest.raises(ModelError, match=r"no key was given: set OPENAI_API_KEY"):
        await make(api_key=None).complete(ask())
    assert "authorization" not in server.received[0].headers


async def test_429_out_of_quota_is_not_retried(server: WireServer, make: Any) -> None:
    server.script(openai_error(429, "You exceeded your quota.", "insufficient_quota",
                               "insufficient_quota"))
    with pytest.raises(ModelError, match="out of quota") as info:
        await make().complete(ask())
    assert not info.value.retryable
    assert len(server.received) == 1


# -- malformed replies ---------------------------------------------------------------------------


@pytest.mark.parametrize(("reply", "what"), [
    (raw_reply("<html>Bad gateway</html>", content_type="text/html"), "not JSON"),
    (json_reply([1, 2]), "not a JSON object"),
    (json_reply({"id": "x", "object": "chat.completion"}), "without 'choices'"),
    (json_reply({"choices": []}), "without 'choices'"),
    (json_reply({"choices": [{"index": 0, "finish_reason": "stop"}]}), "without a 'message'"),
    (json_reply({"choices": [{"message": {"tool_calls": [{"id": "c"}]}}]}), "no 'function'"),
    (json_reply({"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}), "no function"),
])
async def test_malformed_body(server: WireServer, make: Any, reply: Any, what: str) -> None:
    server.script(reply)
    with pytest.raises(MalformedResponseError, match=what) as info:
        await make().complete(ask())
    assert not info.value.retryable
    assert len(server.received) == 1


async def test_error_object_in_a_200_reply(server: WireServer, make: Any) -> None:
    server.script(json_reply({"error": {"message": "model overloaded"}}))
    with pytest.raises(ModelError, match="reported an error: 'model overloaded'"):
        await make().complete(ask())


# -- secrets, lifecycle, configuration -----------------------------------------------------------


async def test_key_never_in_errors_or_logs(
    server: WireServer, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"bad key {KEY}"
    server.script(openai_error(500, echo), raw_reply(echo, 503),  # retried, then exhausted
                  raw_reply(echo, 200),  # not JSON
                  raw_reply(f"data: {echo}\n\n", content_type="text/event-stream"))
    provider = make(max_retries=1)
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for streamed in (False, False, True):
            provider.stream = streamed
            with pytest.raises(ModelError) as info:
                await provider.complete(ask())
            errors.append(str(info.value))
    assert len(errors) == 3
    assert all("[redacted]" in e and KEY not in e for e in errors)
    assert caplog.records
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert KEY not in repr(provider)


async def test_key_in_base_url_path_is_redacted(
    make: Any, caplog: pytest.LogCaptureFixture, delays: list[float]
) -> None:
    with openai_server() as gone:
        url = gone.url
    provider = make(base_url=f"{url}/{KEY}/v1", max_retries=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as info:
        await provider.complete(ask())
    assert f"{url}/[redacted]/v1/chat/completions" in str(info.value)
    [retry] = [r for r in caplog.records if r.name == "agentplane.models"]
    assert "[redacted]" in retry.getMessage()
    assert KEY not in retry.getMessage()
    assert KEY not in repr(provider)


async def test_url_credentials_are_not_shown(delays: list[float]) -> None:
    provider = OpenAIProvider(base_url=f"http://user:{KEY}@127.0.0.1:9/v1?key={KEY}",
                              max_retries=0)
    with pytest.raises(ModelError) as info:
        await provider.complete(ask())
    await provider.aclose()
    assert KEY not in str(info.value)
    assert "http://127.0.0.1:9/v1/chat/completions" in str(info.value)


async def test_base_url_without_scheme() -> None:
    provider = OpenAIProvider(base_url="localhost:8000/v1")
    with pytest.raises(ModelError, match="must start with http") as info:
        await provider.complete(ask())
    await provider.aclose()
    assert not info.value.retryable


async def test_aclose_closes_only_its_own_client(server: WireServer) -> None:
    own = OpenAIProvider(base_url=server.url + "/v1")
    await own.aclose()
    assert own._client.is_closed
    async with httpx.AsyncClient() as client:
        server.script(json_reply(openai_completion("ok")))
        lent = OpenAIProvider(base_url=server.url + "/v1", client=client)
        await lent.aclose()
        assert not client.is_closed
        assert (await lent.complete(ask())).content == "ok"


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    provider = OpenAIProvider.from_env(stream=True)
    assert (provider.base_url, provider._api_key, provider.stream) == (
        "http://localhost:11434/v1", KEY, True)
    assert OpenAIProvider.from_env(base_url="http://x/v1").base_url == "http://x/v1"
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    default = OpenAIProvider.from_env()
    assert (default.base_url, default._api_key) == ("https://api.openai.com/v1", None)


def test_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="timeout"):
        OpenAIProvider(timeout=0)
