"""Images in MCP tool results reach models that take images as images, not base64 text.

A real MCP server (a subprocess over stdio) answers with text, a PNG and an embedded text
resource; Agentplane's MCP client turns the result into the tool message the runtime journals
(JSON text); the OpenAI-compatible and Anthropic adapters send it to loopback servers speaking
their wire formats, whose received bodies are checked.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentplane.models.anthropic import AnthropicProvider
from agentplane.models.base import Message, ModelRequest, ToolCall
from agentplane.models.openai import OpenAIProvider
from agentplane.tools.sources.mcp import MCPConnection, result_value
from agentplane.tools.sources.spec import MCPServerSpec
from tests.models.wire_servers import (
    anthropic_message,
    anthropic_server,
    json_reply,
    openai_completion,
    openai_server,
)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 24).decode()
SERVER = f'''
import mcp_types as types
from mcp.server.mcpserver import MCPServer

server = MCPServer("camera")

@server.tool()
def snapshot(room: str) -> list[types.TextContent | types.ImageContent | types.EmbeddedResource]:
    """A picture of a room."""
    return [types.TextContent(type="text", text=f"the {{room}} at noon"),
            types.ImageContent(type="image", data="{PNG}", mime_type="image/png"),
            types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
                uri="file:///rooms.txt", mime_type="text/plain", text="3 rooms"))]

@server.tool()
def plain(room: str) -> str:
    """Only words."""
    return f"the {{room}} is empty"

server.run()
'''


@pytest.fixture
async def camera(tmp_path: Path) -> AsyncIterator[MCPConnection]:
    (tmp_path / "camera.py").write_text(SERVER, encoding="utf-8")
    spec = MCPServerSpec.model_validate({
        "name": "camera", "command": [sys.executable, "camera.py"], "timeout_s": 60,
        "tools": [{"name": "snapshot", "effect": "read"}, {"name": "plain", "effect": "read"}]})
    connection = MCPConnection(spec, tmp_path)
    yield connection
    await connection.aclose()


async def observed(camera: MCPConnection, tool: str) -> list[Message]:
    """The conversation after the tool call, its result journaled as the runtime does."""
    value = result_value(await camera.request(tool, {"room": "hall"}, {}))
    content = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    call = ToolCall("call_1", f"camera_{tool}", {"room": "hall"})
    return [Message("user", "Look at the hall."), Message("assistant", None, tool_calls=[call]),
            Message("tool", content, tool_call_id="call_1", name=f"camera_{tool}")]


async def test_openai_compatible_models_get_the_image_as_an_image_part(
        camera: MCPConnection) -> None:
    messages = await observed(camera, "snapshot")
    with openai_server() as server:
        server.script(json_reply(openai_completion("A hall.")))
        provider = OpenAIProvider(base_url=server.url + "/v1", api_key="sk-test")
        try:
            await provider.complete(ModelRequest(model="gpt-test", messages=messages))
        finally:
            await provider.aclose()
        [body] = server.bodies
    tool, images = body["messages"][2], body["messages"][3]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_1"
    assert "the hall at noon" in tool["content"] and "3 rooms" in tool["content"]
    assert PNG not in tool["content"]  # not as base64 text
    assert "[image 1: image/png] (attached below)" in tool["content"]
    assert images["role"] == "user"
    assert images["content"][1] == {"type": "image_url",
                                    "image_url": {"url": f"data:image/png;base64,{PNG}"}}


async def test_anthropic_models_get_the_image_in_the_tool_result(camera: MCPConnection) -> None:
    messages = await observed(camera, "snapshot")
    with anthropic_server() as server:
        server.script(json_reply(anthropic_message(["A hall."])))
        provider = AnthropicProvider(base_url=server.url, api_key="sk-ant-test")
        try:
            await provider.complete(ModelRequest(model="claude-test", messages=messages))
        finally:
            await provider.aclose()
        [body] = server.bodies
    [result] = body["messages"][2]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "call_1"
    blocks: list[dict[str, Any]] = result["content"]
    assert blocks[0] == {"type": "text", "text": "the hall at noon"}
    assert blocks[1] == {"type": "image", "source": {"type": "base64",
                                                     "media_type": "image/png", "data": PNG}}
    assert blocks[2]["text"].endswith("3 rooms")


async def test_text_results_stay_text(camera: MCPConnection) -> None:
    messages = await observed(camera, "plain")
    text = messages[2].content
    assert text is not None and json.loads(text) == {"result": "the hall is empty"}
    with openai_server() as server:
        server.script(json_reply(openai_completion("ok")))
        provider = OpenAIProvider(base_url=server.url + "/v1", api_key="sk-test")
        try:
            await provider.complete(ModelRequest(model="gpt-test", messages=messages))
        finally:
            await provider.aclose()
        [body] = server.bodies
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_1",
                                   "content": text}
    assert len(body["messages"]) == 3
