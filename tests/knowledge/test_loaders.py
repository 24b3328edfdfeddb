"""Loaders: each kind of document read from a real small file, and the errors bad input gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentplane.knowledge import loaders
from agentplane.knowledge.loaders import IngestError, load, load_records, media_type_for

from .pdfs import encrypted_pdf, text_pdf

PAGE = """<!doctype html><html><head><title>Refund policy</title>
<style>body { color: red }</style><script>var secret = "tracking";</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
<h1>Refunds</h1><p>Refunds are paid within <b>five</b> days.</p>
<h2>退款</h2><p>退款需要在三十天内申请。</p><ul><li>One</li><li>Two</li></ul>
<noscript>enable javascript</noscript></body></html>"""


def test_media_types_by_suffix_and_header() -> None:
    assert media_type_for("a/b/guide.MD") == loaders.MARKDOWN
    assert media_type_for("page", "text/html; charset=utf-8") == loaders.HTML
    assert media_type_for("https://x.test/doc.pdf?download=1") == loaders.PDF
    assert media_type_for("notes") == loaders.TEXT
    assert media_type_for("x.log", "text/x-log") == loaders.TEXT
    assert media_type_for("FAQ v1.2") == loaders.TEXT  # a label, not a file name
    with pytest.raises(IngestError, match=r"image\.png: cannot read '\.png'"):
        media_type_for("image.png", file=True)
    with pytest.raises(IngestError, match=r"pic: cannot read 'image/png'"):
        media_type_for("pic", "image/png")


def test_text_and_markdown_are_read_as_utf8(tmp_path: Path) -> None:
    file = tmp_path / "notes.md"
    file.write_bytes("\ufeff# 标题\r\n\r\nBody".encode())
    loaded = load(file.read_bytes(), media_type_for(file.name), file.name)
    assert loaded.text == "# 标题\n\nBody"
    assert loaded.media_type == loaders.MARKDOWN


def test_undecodable_bytes_name_the_file_and_the_offset() -> None:
    with pytest.raises(IngestError, match=r"old\.txt: not UTF-8 text \(byte 0xb7 at offset 3\)"):
        load("abc·def".encode("latin-1"), loaders.TEXT, "old.txt")


def test_html_keeps_headings_and_text_and_drops_scripts_styles_nav() -> None:
    loaded = load(PAGE.encode(), loaders.HTML, "policy.html")
    assert loaded.title == "Refund policy"
    assert "# Refunds" in loaded.text and "## 退款" in loaded.text
    assert "Refunds are paid within five days." in loaded.text
    assert "退款需要在三十天内申请。" in loaded.text
    for hidden in ("color: red", "tracking", "About us", "enable javascript"):
        assert hidden not in loaded.text


def test_pdf_text_layer_is_read(tmp_path: Path) -> None:
    file = tmp_path / "policy.pdf"
    file.write_bytes(text_pdf(["Refund policy (2026)", "Refunds take 5 days."]))
    loaded = load(file.read_bytes(), loaders.PDF, file.name)
    assert "Refund policy (2026)" in loaded.text and "Refunds take 5 days." in loaded.text


def test_encrypted_broken_and_empty_pdfs_are_refused() -> None:
    with pytest.raises(IngestError, match=r"locked\.pdf: the PDF is encrypted"):
        load(encrypted_pdf(["secret"]), loaders.PDF, "locked.pdf")
    with pytest.raises(IngestError, match=r"broken\.pdf: not a readable PDF"):
        load(b"%PDF-1.4\nthis is not a pdf", loaders.PDF, "broken.pdf")
    with pytest.raises(IngestError, match=r"blank\.pdf: the PDF has no text layer"):
        load(text_pdf([]), loaders.PDF, "blank.pdf")


def test_csv_rows_become_records(tmp_path: Path) -> None:
    file = tmp_path / "suppliers.csv"
    file.write_text("name,city,terms\nAcme,Paris,30 days\n\n北方公司,北京,\"60 天, 月结\"\n",
                    encoding="utf-8")
    records = load_records(file.read_bytes(), loaders.CSV, file.name)
    assert records == [{"name": "Acme", "city": "Paris", "terms": "30 days"},
                       {"name": "北方公司", "city": "北京", "terms": "60 天, 月结"}]


@pytest.mark.parametrize(("text", "message"), [
    ("", "the CSV is empty"),
    ("2026,14.6%\n2027,3.1%\n", r"the CSV has no header: line 1 \(2026, 14.6%\) looks like data"),
    ("name,,city\nA,B,C\n", r"the CSV header \(line 1\) needs a distinct name for every column"),
    ("name,name\nA,B\n", r"the CSV header \(line 1\) needs a distinct name for every column"),
    ("name,city\nA,Paris,extra\n", "line 2 has 3 fields, the header has 2"),
])
def test_bad_csv_is_refused_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(IngestError, match=r"^rows\.csv: " + message):
        load_records(text.encode(), loaders.CSV, "rows.csv")


def test_json_and_json_lines_records() -> None:
    data = [{"id": 1, "name": "Acme", "tags": ["a", "b"]}, {"id": 2, "name": "Bolt"}]
    assert load_records(json.dumps(data), loaders.JSON, "r.json") == data
    assert load_records('{"id": 3}', loaders.JSON, "one.json") == [{"id": 3}]
    lines = '{"id": 1}\n\n{"id": 2}\n'
    assert load_records(lines, loaders.JSON_LINES, "r.jsonl") == [{"id": 1}, {"id": 2}]


def test_bad_json_is_refused_with_where_and_what() -> None:
    with pytest.raises(IngestError, match=r"r\.json: invalid JSON at line 2, column 1"):
        load_records('[{"id": 1},\n]', loaders.JSON, "r.json")
    with pytest.raises(IngestError, match=r"r\.json: record 2: a record must be a JSON object"):
        load_records('[{"id": 1}, 5]', loaders.JSON, "r.json")
    with pytest.raises(IngestError, match=r"r\.jsonl:2: invalid JSON"):
        load_records('{"id": 1}\n{oops}\n', loaders.JSON_LINES, "r.jsonl")


def test_records_render_as_key_value_lines() -> None:
    text = loaders.render_record({"name": "Acme", "city": "巴黎", "tags": ["a", 1]})
    assert text == 'name: Acme\ncity: 巴黎\ntags: ["a", 1]'
