"""AnthropicProvider against a real loopback server speaking the Messages API wire format."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agentplane.models.anthropic import AnthropicProvider
from agentplane.models.base import (
    MalformedResponseError,
    Message,
    ModelError,
    ModelProvider,
    ModelRequest,
    ToolCall,
    Usage,
)

from .conftest import WEATHER, provider_factory
from .wire_servers import (
    WireServer,
    anthropic_error,
    anthropic_events,
    anthropic_message,
    anthropic_server,
    anthropic_stream,
    drop_connection,
    json_reply,
    raw_reply,
    stall,
)

KEY = "sk-ant-test-SECRET-0123456789"
CACHED = {"input_tokens": 20, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5,
          "output_tokens": 1}


@pytest.fixture
def server() -> Iterator[WireServer]:
    with anthropic_server() as s:
        yield s


@pytest.fixture
async def make(server: WireServer, delays: list[float]) -> AsyncIterator[Any]:
    """Build providers for ``server``; all are closed after the test."""
    async for build in provider_factory(AnthropicProvider, base_url=server.url, api_key=KEY):
        yield build


def ask(text: str = "Hi") -> ModelRequest:
    return ModelRequest(model="claude-test", messages=[Message("user", text)], tools=[WEATHER])


async def test_text_and_tool_use_blocks(server: WireServer, make: Any) -> None:
    blocks: list[Any] = ["Let me check. ", "Two cities.",
                         ("toolu_1", "get_weather", ['{"city": "Paris"}']),
                         ("toolu_2", "get_weather", ['{"city": "Oslo"}'])]
    server.script(json_reply(anthropic_message(blocks, CACHED, "tool_use")))
    provider = make()
    assert isinstance(provider, ModelProvider)
    response = await provider.complete(ask())
    assert response.content == "Let me check. Two cities."
    assert response.tool_calls == [ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
                                   ToolCall("toolu_2", "get_weather", {"city": "Oslo"})]
    assert (response.model, response.finish_reason) == ("claude-test-1", "tool_use")
    assert response.usage == Usage(input_tokens=125, output_tokens=1, cached_input_tokens=100)
    [request] = server.received
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers


async def test_request_conversion(server: WireServer, make: Any) -> None:
    server.script(json_reply(anthropic_message(["ok"])), json_reply(anthropic_message(["ok"])))
    calls = [ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
             ToolCall("toolu_2", "get_weather", {"city": "Oslo"})]
    request = ModelRequest(model="claude-test", tools=[WEATHER], temperature=0.5,
                           max_output_tokens=300, messages=[
        Message("system", "Be brief."), Message("user", "Weather?"),
        Message("assistant", "Checking.", tool_calls=calls),
        Message("tool", "18°C", tool_call_id="toolu_1", name="get_weather"),
        Message("tool", "", tool_call_id="toolu_2", name="get_weather"),
        Message("user", "And tomorrow?"), Message("system", "Use Celsius.")])
    provider = make()
    await provider.complete(request)
    assert server.received[0].json == {
        "model": "claude-test", "max_tokens": 300, "temperature": 0.5,
        "system": "Be brief.\n\nUse Celsius.",
        "tools": [{"name": "get_weather", "description": "Weather of a city.",
                   "input_schema": WEATHER.parameters}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                 "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"},
                {"type": "tool_result", "tool_use_id": "toolu_2"},
                {"type": "text", "text": "And tomorrow?"}]}]}
    await provider.complete(ModelRequest(model="claude-test", messages=[Message("user", "x")]))
    body = server.received[1].json
    assert body["max_tokens"] == AnthropicProvider.default_max_tokens
    assert "system" not in body
    assert "tools" not in body


async def test_tool_input_that_is_not_an_object(server: WireServer, make: Any) -> None:
    message = anthropic_message([("toolu_1", "get_weather", ["{}"])], stop_reason="tool_use")
    message["content"][0]["input"] = "Paris"
    server.script(json_reply(message))
    [call] = (await make().complete(ask())).tool_calls
    assert (call.arguments, call.raw_arguments) == ({}, "Paris")
    assert call.error is not None
    assert call.error.startswith("arguments are not valid JSON")


# -- streaming ---------------------------------------------------------------------------------


async def test_stream_matches_non_streamed(server: WireServer, make: Any) -> None:
    tools = [("toolu_1", "get_weather", ['{"ci', 'ty": "Pa', 'ris"}']),
             ("toolu_2", "get_weather", ['{"city": ', '"Oslo"}']),
             ("toolu_3", "now", [])]
    server.script(
        anthropic_stream(anthropic_events([["Let me ", "check. "], ["Two cities."]], tools,
                                          CACHED, output_tokens=1, stop_reason="tool_use")),
        json_reply(anthropic_message(["Let me check. ", "Two cities.", *tools[:2],
                                      ("toolu_3", "now", ["{}"])], CACHED, "tool_use")))
    deltas: list[str] = []
    streamed = await make(stream=True).complete(ask(), on_text=deltas.append)
    assert streamed == await make().complete(ask())
    assert deltas == ["Let me ", "check. ", "Two cities."]
    assert [c.arguments for c in streamed.tool_calls] == [{"city": "Paris"}, {"city": "Oslo"}, {}]
    assert streamed.usage == Usage(input_tokens=125, output_tokens=1, cached_input_tokens=100)
    assert server.received[0].json["stream"] is True
    assert "stream" not in server.received[1].json


async def test_stream_usage_from_message_delta_and_bad_tool_json(
    server: WireServer, make: Any
) -> None:
    events = anthropic_events([["Hi"]], [("toolu_9", "get_weather", ['{"city": ', "Par"])],
                              {"input_tokens": 7}, output_tokens=42, stop_reason="tool_use")
    server.script(anthropic_stream(events))
    response = await make(stream=True).complete(ask())
    assert response.usage == Usage(input_tokens=7, output_tokens=42)
    [call] = response.tool_calls
    assert (call.arguments, call.raw_arguments) == ({}, '{"city": Par')
    assert call.error is not None
    assert call.error.startswith("arguments are not valid JSON")


async def test_stream_overloaded_error_event_before_text_is_retried(
    server: WireServer, make: Any
) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.script(anthropic_stream([anthropic_events()[0], error]),
                  anthropic_stream(anthropic_events([["ok"]])))
    assert (await make(stream=True).complete(ask())).content == "ok"
    assert len(server.received) == 2


async def test_stream_cut_after_text_is_not_retried(server: WireServer, make: Any) -> None:
    events = anthropic_events([["a", "b"]])
    server.script(anthropic_stream(events, drop_after_events=4), anthropic_stream(events))
    deltas: list[str] = []
    with pytest.raises(ModelError, match="partial reply was discarded") as info:
        await make(stream=True).complete(ask(), on_text=deltas.append)
    assert info.value.retryable
    assert (deltas, len(server.received)) == (["a"], 1)


async def test_stream_without_message_stop(server: WireServer, make: Any) -> None:
    server.script(*[anthropic_stream(anthropic_events()[:-1])] * 2)
    with pytest.raises(ModelError, match="before 'message_stop'"):
        await make(stream=True, max_retries=1).complete(ask())
    assert len(server.received) == 2


@pytest.mark.parametrize("data", ["{not json", "[]",
                                  '{"type": "content_block_start", "index": 0}',
                                  '{"type": "content_block_delta", "delta": {}}'])
async def test_bad_stream_event(server: WireServer, make: Any, data: str) -> None:
    server.script(raw_reply(f"event: x\ndata: {data}\n\n", content_type="text/event-stream"))
    with pytest.raises(MalformedResponseError) as info:
        await make(stream=True).complete(ask())
    assert data[:5] in str(info.value)


# -- retries and errors --------------------------------------------------------------------------


async def test_529_and_429_are_retried(server: WireServer, make: Any, delays: list[float]) -> None:
    server.script(anthropic_error(529, "overloaded_error", "Overloaded"),
                  anthropic_error(429, "rate_limit_error", "slow down", {"retry-after": "3"}),
                  drop_connection(), stall(), json_reply(anthropic_message(["ok"])))
    response = await make(timeout=0.5, max_retries=4).complete(ask())
    assert response.content == "ok"
    assert len(server.received) == 5
    assert delays[1] == 3.0


async def test_retries_exhausted(server: WireServer, make: Any) -> None:
    server.script(*[anthropic_error(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(ModelError) as info:
        await make(max_retries=2).complete(ask())
    assert (info.value.retryable, info.value.status) == (True, 529)
    assert "gave up after 3 attempts" in str(info.value)
    assert f"{server.url}/v1/messages" in str(info.value)
    assert "Overloaded (overloaded_error)" in str(info.value)


async def test_401_fails_at_once_without_the_key(
    server: WireServer, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(anthropic_error(401, "authentication_error", f"invalid x-api-key {KEY}"))
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as info:
        await make().complete(ask())
    assert (info.value.retryable, info.value.status) == (False, 401)
    assert "check ANTHROPIC_API_KEY" in str(info.value)
    assert KEY not in str(info.value)
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert len(server.received) == 1


@pytest.mark.parametrize(("reply", "what"), [
    (raw_reply("upstream connect error", 200), "not JSON"),
    (json_reply({"type": "message", "content": "hi"}), "without a 'content' list"),
    (json_reply({"type": "message", "content": ["hi"]}), "block 0 is not an object"),
    (json_reply({"type": "message", "content": [{"type": "tool_use", "id": "t"}]}), "no name"),
])
async def test_malformed_body(server: WireServer, make: Any, reply: Any, what: str) -> None:
    server.script(reply)
    with pytest.raises(MalformedResponseError, match=what):
        await make().complete(ask())


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    provider = AnthropicProvider.from_env(max_retries=1)
    assert (provider.base_url, provider._api_key, provider.max_retries) == (
        "https://api.anthropic.com", KEY, 1)
    assert KEY not in repr(provider)
    assert json.dumps(provider.request_body(ask()))  # plain JSON
