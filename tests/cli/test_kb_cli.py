"""``agentplane kb``: add, list, search and remove documents — a real process on a real
database, as a person runs it."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from .harness import Cli, failed, make_cli
from .isolated import modules_of, packages

GUIDE = ("# Refunds\n\nRefunds are paid within five working days.\n\n"
         "## 退款\n\n退款需要在三十天内申请。\n")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path / "home")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "guide.md").write_text(GUIDE, encoding="utf-8")
    (folder / "sub" / "suppliers.csv").write_text("id,name,city\nS1,Acme,Paris\nS2,北方公司,北京\n",
                                                  encoding="utf-8")
    (folder / "sub" / "image.png").write_bytes(b"\x89PNG")  # not readable: skipped in a folder
    return folder


def test_add_a_folder_then_list_search_and_remove(cli: Cli, docs: Path) -> None:
    added = cli.json("kb", "add", docs, "--owner", "ops")
    assert sorted((Path(r["document"]["source"]).name, r["added"]) for r in added) == [
        ("guide.md", 2), ("suppliers.csv", 2)]
    listed = cli.json("kb", "list")
    assert {d["owner"] for d in listed} == {"ops"} and len(listed) == 2
    hits = cli.json("kb", "search", "退款", "--k", "1")
    assert len(hits) == 1 and hits[0]["chunk"]["id"].startswith("kb:")
    assert "退款需要在三十天内申请" in hits[0]["chunk"]["text"]
    assert cli.json("kb", "search", "北京")[0]["chunk"]["meta"]["name"] == "北方公司"
    text = cli.ok("kb", "search", "refunds paid").stdout
    assert "guide.md › Refunds" in text and "five working days" in text
    source = str(docs / "guide.md")
    assert cli.json("kb", "remove", source) == {"removed": source, "chunks": 2}
    assert [Path(d["source"]).name for d in cli.json("kb", "list")] == ["suppliers.csv"]
    assert "nothing found" in cli.ok("kb", "search", "refunds").stdout


def test_re_adding_unchanged_then_changed_content(cli: Cli, docs: Path) -> None:
    guide = docs / "guide.md"
    first = cli.json("kb", "add", guide)[0]
    assert "unchanged" in cli.ok("kb", "add", guide).stdout
    guide.write_text(GUIDE.replace("five", "ten"), encoding="utf-8")
    second = cli.json("kb", "add", guide)[0]
    assert second["superseded"] == first["document"]["id"] and second["removed"] == 2
    assert len(cli.json("kb", "list")) == 1
    history = cli.json("kb", "list", "--all")
    assert {d["superseded_by"] for d in history} == {None, second["document"]["id"]}
    assert "ten working days" in cli.json("kb", "search", "working days")[0]["chunk"]["text"]


def test_provenance_options_and_filters(cli: Cli, docs: Path) -> None:
    cli.ok("kb", "add", docs / "guide.md", "--trust", "untrusted", "--source", "forum",
           "--valid-from", "2026-01-01", "--valid-until", "2026-06-30", "--tenant", "acme")
    [doc] = cli.json("kb", "list", "--tenant", "acme")
    assert (doc["source"], doc["trust"], doc["valid_from"][:10]) == ("forum", "untrusted",
                                                                     "2026-01-01")
    assert cli.json("kb", "list") == []  # another tenant
    assert cli.json("kb", "search", "refunds", "--tenant", "acme", "--trust", "trusted") == []
    assert cli.json("kb", "search", "refunds", "--tenant", "acme", "--valid-at",
                    "2026-08-01") == []
    assert cli.json("kb", "search", "refunds", "--tenant", "acme", "--source", "forum")


def test_add_a_url(cli: Cli) -> None:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><title>Policy</title><nav>Menu</nav><h1>Tea</h1><p>Green tea.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/policy"
        [added] = cli.json("kb", "add", url)
        assert added["document"]["media_type"] == "text/html"
        assert added["document"]["title"] == "Policy"
        [hit] = cli.json("kb", "search", "green tea")
        assert hit["chunk"]["source"] == url and "Menu" not in hit["chunk"]["text"]
    finally:
        server.shutdown()
        server.server_close()


def test_bad_input_is_named_and_the_rest_is_added(cli: Cli, docs: Path, tmp_path: Path) -> None:
    bad = tmp_path / "rows.csv"
    bad.write_text("1,2\n3,4\n", encoding="utf-8")
    message = failed(cli("kb", "add", bad, docs / "guide.md"), 2)
    assert "rows.csv: the CSV has no header" in message and "1 other documents" in message
    assert [Path(d["source"]).name for d in cli.json("kb", "list")] == ["guide.md"]
    assert "--source names one document" in failed(
        cli("kb", "add", docs, "--source", "x"), 2)
    assert "--trust must be trusted or untrusted" in failed(
        cli("kb", "add", docs, "--trust", "maybe"), 2)
    assert "not an ISO-8601 date" in failed(
        cli("kb", "add", docs / "guide.md", "--valid-from", "soon"), 2)
    assert "no document or source 'nope'" in failed(cli("kb", "remove", "nope"), 3)


def test_read_commands_need_an_existing_database(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "empty")
    assert cli("kb", "list").returncode != 0
    assert not (tmp_path / "empty" / "x.db").exists()


@pytest.fixture
def filled(cli: Cli, docs: Path) -> Cli:
    cli.ok("kb", "add", docs)
    return cli


def test_help_and_list_load_no_segmenter(filled: Cli) -> None:
    assert "jieba" not in packages(modules_of(filled, "kb", "--help"))
    listed = modules_of(filled, "kb", "list", "--json")
    assert not packages(listed) & {"jieba", "pypdf", "bs4"}


def test_a_run_of_a_tenant_sees_that_tenants_knowledge_base(cli: Cli, tmp_path: Path) -> None:
    """``agentplane run --tenant``: the run belongs to the tenant, and its context packet holds
    that tenant's passages only."""
    note = tmp_path / "refunds.md"
    note.write_text("# Refunds\n\nRefunds are paid within five working days.\n",
                    encoding="utf-8")
    cli.ok("kb", "add", str(note), "--tenant", "acme")
    flow = tmp_path / "desk.yaml"
    flow.write_text("name: desk\nagents:\n  - name: clerk\n    knowledge: {k: 3}\n"
                    "    script: [{content: ok}]\nsteps:\n  - agent: clerk\n", encoding="utf-8")

    def packet_sources(*tenant: str) -> tuple[str, list[str]]:
        run = cli.json("run", str(flow), "--input", '"When are refunds paid?"', *tenant)
        shown = cli.json("runs", "show", run["id"])
        [packet] = [e["data"]["packet"] for e in shown["events"]
                    if e["type"] == "context.packet"]
        return shown["tenant"], [item["source"] for item in packet["items"]]

    assert packet_sources("--tenant", "acme") == ("acme", [str(note)])
    assert packet_sources() == ("default", [])
    assert "--tenant: a tenant needs a name" in failed(
        cli("run", str(flow), "--tenant", " "), 2)


def test_embed_indexes_each_current_chunk_once(cli: Cli, docs: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.knowledge.embedding_server import MODEL, EmbeddingServer

    cli.ok("kb", "add", str(docs / "guide.md"))
    chunks = sum(d["chunks"] for d in cli.json("kb", "list"))
    monkeypatch.setenv("KB_EMBED_KEY", "sk-test-cli-secret")
    with EmbeddingServer(api_key="sk-test-cli-secret") as server:
        embed = ("kb", "embed", "--base-url", server.base_url, "--model", MODEL,
                 "--api-key-env", "KB_EMBED_KEY", "--json")
        assert cli.json(*embed)["embedded"] == chunks > 0
        assert cli.json(*embed)["embedded"] == 0  # nothing new
        cli.ok("kb", "add", str(docs / "sub" / "suppliers.csv"))
        assert cli.json(*embed)["embedded"] == 2  # one chunk per record
        (docs / "late.md").write_text("Late news.\n", encoding="utf-8")
        cli.ok("kb", "add", str(docs / "late.md"))
        monkeypatch.setenv("KB_EMBED_KEY", "sk-wrong-cli-secret")
        refused = cli(*embed)
    assert refused.returncode != 0
    assert "401" in refused.stderr and "sk-wrong-cli-secret" not in refused.stderr + refused.stdout
