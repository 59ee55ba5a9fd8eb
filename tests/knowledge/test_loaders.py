from __future__ import annotations

import pytest

from agentkeel.knowledge import DocumentLoadError, Section, SourceDocument
from agentkeel.knowledge.loaders import parse_bytes, parse_text


def build_pdf(pages: list[str], title: str | None = None) -> bytes:
    """Write a minimal valid PDF: one Helvetica text line per page, with a correct xref table."""
    page_ids = [4 + 2 * index for index in range(len(pages))]
    kids = " ".join(f"{page_id} 0 R" for page_id in page_ids)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, line in zip(page_ids, pages, strict=True):
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_id = None
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode())
        info_id = len(objects)

    output = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_offset = len(output)
    output += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        output += f"{offset:010d} 00000 n \n".encode()
    info = f" /Info {info_id} 0 R" if info_id is not None else ""
    output += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref_offset}\n%%EOF\n".encode()
    return output


MARKDOWN = """Intro line before any heading.

# Guide

Welcome.

## Install

Run pip install.

```
# not a heading inside a code block
```

## Upgrade

### From 1.x

Deep text.

Setext heading
--------------

Setext text.

# Reference

Reference text.

## Empty
"""


def test_markdown_heading_paths() -> None:
    parsed = parse_bytes("/docs/guide.md", "guide.md", MARKDOWN.encode())

    assert [section.heading for section in parsed.sections] == [
        "guide.md",
        "Guide",
        "Guide > Install",
        "Guide > Upgrade > From 1.x",
        "Guide > Setext heading",
        "Reference",
    ]


def test_markdown_code_block_stays_in_section() -> None:
    parsed = parse_bytes("/docs/guide.md", "guide.md", MARKDOWN.encode())
    install = next(section for section in parsed.sections if section.heading == "Guide > Install")

    assert "# not a heading inside a code block" in install.text
    assert "Run pip install." in install.text


def test_markdown_title_is_first_h1() -> None:
    parsed = parse_bytes("/docs/guide.md", "guide.md", MARKDOWN.encode())

    assert parsed.title == "Guide"
    assert parsed.source == "/docs/guide.md"


def test_markdown_section_excludes_heading_line() -> None:
    parsed = parse_text(SourceDocument(source="s", text="# Title\n\nBody text.\n"))

    assert parsed.sections == [Section("Title", "\nBody text.\n")]


def test_plain_text_is_one_section_under_title() -> None:
    parsed = parse_bytes("/docs/notes.txt", "notes.txt", b"# not markdown\nplain words\n")

    assert parsed.title == "notes.txt"
    assert parsed.sections == [Section("notes.txt", "# not markdown\nplain words\n")]


def test_rst_loads_as_plain_text() -> None:
    parsed = parse_bytes("/docs/index.rst", "index.rst", b"Title\n=====\n\nBody.\n")

    assert len(parsed.sections) == 1
    assert parsed.sections[0].heading == "index.rst"


def test_html_headings_and_dropped_scripts() -> None:
    html = b"""<!doctype html>
<html><head><title>Handbook</title><style>p { color: red }</style></head>
<body>
<p>Before headings.</p>
<h1>Setup</h1><p>Install the <b>agent</b>.</p>
<script>var secret = "do not index";</script>
<h2>Keys</h2><ul><li>first key</li><li>second key</li></ul>
<!-- a comment -->
<h1>Usage</h1><div>Run it.</div>
</body></html>"""

    parsed = parse_bytes("/site/index.html", "index.html", html)

    assert parsed.title == "Handbook"
    assert [section.heading for section in parsed.sections] == ["Handbook", "Setup", "Setup > Keys", "Usage"]
    assert parsed.sections[1].text == "Install the agent."
    assert parsed.sections[2].text == "first key\nsecond key"
    all_text = " ".join(section.text for section in parsed.sections)
    assert "do not index" not in all_text
    assert "color" not in all_text
    assert "a comment" not in all_text


def test_pdf_pages_become_sections() -> None:
    data = build_pdf(["Refunds take five days.", "Shipping is free."], title="Policies")

    parsed = parse_bytes("/docs/policies.pdf", "policies.pdf", data)

    assert parsed.title == "Policies"
    assert [section.heading for section in parsed.sections] == ["page 1", "page 2"]
    assert "Refunds take five days." in parsed.sections[0].text
    assert "Shipping is free." in parsed.sections[1].text


def test_pdf_without_title_uses_file_name() -> None:
    parsed = parse_bytes("/docs/a.pdf", "a.pdf", build_pdf(["text"]))

    assert parsed.title == "a.pdf"


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4\nthis is not a pdf", b"plain bytes"])
def test_broken_pdf_raises_load_error(data: bytes) -> None:
    with pytest.raises(DocumentLoadError) as caught:
        parse_bytes("/docs/broken.pdf", "broken.pdf", data)

    assert caught.value.source == "/docs/broken.pdf"
    assert "/docs/broken.pdf" in caught.value.message


def test_invalid_utf8_raises_load_error() -> None:
    with pytest.raises(DocumentLoadError) as caught:
        parse_bytes("/docs/latin1.md", "latin1.md", "café".encode("latin-1"))

    assert "/docs/latin1.md" in caught.value.message
    assert "UTF-8" in caught.value.reason


def test_unsupported_extension_raises_load_error() -> None:
    with pytest.raises(DocumentLoadError) as caught:
        parse_bytes("/docs/sheet.xlsx", "sheet.xlsx", b"data")

    assert ".xlsx" in caught.value.reason


def test_utf8_bom_is_dropped() -> None:
    parsed = parse_bytes("/docs/bom.txt", "bom.txt", "\ufeffhello".encode())

    assert parsed.sections[0].text == "hello"
