"""The function model and the resolver's every-model override."""

from __future__ import annotations

import asyncio

import pytest

from agentplane.models.base import Message, ModelError, ModelRequest, ModelResponse, ToolDefinition
from agentplane.models.function import FunctionModel, ModelCall, Reply, call
from agentplane.models.registry import EVERY_MODEL, Endpoint, ModelResolver
from agentplane.models.scripted import ScriptedProvider

REQUEST = ModelRequest(
    model="gpt-4o-mini", agent="clerk", call_index=1,
    messages=[Message("system", "You handle refunds."), Message("user", "Refund A1"),
              Message("assistant", None), Message("tool", '{"total": 35}', tool_call_id="c",
                                                  name="lookup_order")],
    tools=[ToolDefinition("lookup_order", "Look up", {}), ToolDefinition("issue_refund", "", {})])


def test_the_function_sees_the_call() -> None:
    seen: list[ModelCall] = []

    def reply(model_call: ModelCall) -> str:
        seen.append(model_call)
        return "done"

    response = asyncio.run(FunctionModel(reply).complete(REQUEST))
    (got,) = seen
    assert (got.agent, got.index, got.input, got.tools) == (
        "clerk", 1, "Refund A1", ["lookup_order", "issue_refund"])
    assert [m.name for m in got.tool_results] == ["lookup_order"]
    assert (response.content, response.tool_calls, response.finish_reason) == ("done", [], "stop")
    assert response.usage.output_tokens == 1 and response.model == "gpt-4o-mini"


def test_tool_calls_usage_and_async_functions() -> None:
    async def reply(model_call: ModelCall) -> Reply:
        return Reply(tool_calls=[call("issue_refund", order_id="A1", amount=35)],
                     usage={"input_tokens": 100, "output_tokens": 7})

    response = asyncio.run(FunctionModel(reply).complete(REQUEST))
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("issue_refund", {"order_id": "A1", "amount": 35})]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (100, 7)
    assert response.finish_reason == "tool_calls"


def test_a_model_response_is_returned_as_it_is() -> None:
    given = ModelResponse(content="x", model="m")
    assert asyncio.run(FunctionModel(lambda c: given).complete(REQUEST)) is given


def test_declared_errors_and_wrong_types() -> None:
    failing = FunctionModel(lambda c: Reply(error="overloaded", retryable=True))
    with pytest.raises(ModelError, match="overloaded") as caught:
        asyncio.run(failing.complete(REQUEST))
    assert caught.value.retryable
    wrong = FunctionModel(lambda c: 42)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="returned int; return text, a Reply or a ModelResponse"):
        asyncio.run(wrong.complete(REQUEST))


def test_every_model_override_stands_in_for_each_model() -> None:
    model = FunctionModel(lambda c: "x")
    resolver = ModelResolver(endpoints={"local": Endpoint("local", model="llama3")},
                             scripted=ScriptedProvider(), overrides={EVERY_MODEL: model})
    assert resolver.resolve("openai:gpt-4o-mini") == (model, "gpt-4o-mini")
    assert resolver.resolve("anthropic:claude-x") == (model, "claude-x")
    assert resolver.resolve("local") == (model, "llama3")
    assert resolver.resolve("scripted") == (model, "scripted")
    named = ScriptedProvider()
    resolver = ModelResolver(overrides={EVERY_MODEL: model, "scripted": named})
    assert resolver.resolve("scripted:gpt-4o")[0] is named  # a named override wins
