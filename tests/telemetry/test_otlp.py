"""Spans reach a real OTLP/HTTP receiver on loopback, configured by the standard variables."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from agentplane.journal import JournalStore
from agentplane.telemetry import start_tracing, trace_id_for

from .conftest import clerk_flow, run


class Collector(ThreadingHTTPServer):
    """The trace half of an OpenTelemetry collector's OTLP/HTTP receiver."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert self.headers["Content-Type"] == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append(request)
        self.server.paths.append(self.path)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def value(attributes: list[KeyValue], key: str) -> Any:
    [kv] = [a for a in attributes if a.key == key]
    kind = kv.value.WhichOneof("value")
    assert kind is not None
    return getattr(kv.value, kind)


async def test_runs_are_exported_over_otlp_http(store: JournalStore, collector: Collector,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED",
                 "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    host, port = collector.server_address[:2]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{host!s}:{port}")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    tracer = await start_tracing(store)
    assert tracer is not None
    record = await run(store, clerk_flow())
    await tracer.stop()

    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    spans = []
    for request in collector.requests:
        for resource_spans in request.resource_spans:
            resource = resource_spans.resource.attributes
            assert value(resource, "service.name") == "agentplane"
            assert value(resource, "deployment.environment") == "test"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "agentplane.telemetry"
                spans += scope_spans.spans
    assert {s.trace_id for s in spans} == {trace_id_for(record.id).to_bytes(16, "big")}
    names = sorted(s.name for s in spans)
    assert names.count("chat scripted") == 4
    assert {"invoke_workflow clerk-flow", "invoke_agent clerk", "execute_tool lookup",
            "execute_tool explode", "execute_tool pay", "apply_guardrail policy"} <= set(names)
    [root] = [s for s in spans if not s.parent_span_id]
    [agent] = [s for s in spans if s.name == "invoke_agent clerk"]
    assert agent.parent_span_id == root.span_id
    chat = next(s for s in spans if s.name == "chat scripted")
    assert value(list(chat.attributes), "gen_ai.usage.input_tokens") > 0
    assert value(list(chat.attributes), "gen_ai.operation.name") == "chat"
    assert chat.start_time_unix_nano < chat.end_time_unix_nano
    [explode] = [s for s in spans if s.name == "execute_tool explode"]
    assert explode.status.code == explode.status.STATUS_CODE_ERROR
