"""Turn Markdown, plain text, HTML and PDF documents into titled sections.

Loaders are synchronous and CPU-bound, so the ingestion pipeline runs them in a worker thread.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from markdown_it import MarkdownIt
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from agentkeel.knowledge.chunking import Section
from agentkeel.knowledge.errors import DocumentLoadError

TextFormat = Literal["markdown", "plain"]

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
PLAIN_SUFFIXES = frozenset({".txt", ".rst"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | PLAIN_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

HEADING_SEPARATOR = " > "
HTML_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
HTML_DROPPED = ("script", "style", "noscript", "template", "head")
# Tags that start a new line in rendered HTML. Other tags flow inline with their neighbors.
HTML_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
SPACES = re.compile(r"[ \t\f\v\r]+")
BLANK_LINES = re.compile(r"\n\s*\n+")

_markdown = MarkdownIt("commonmark")


@dataclass(frozen=True)
class SourceDocument:
    """An in-memory document to ingest. `source` is its identity within the knowledge base."""

    source: str
    text: str
    title: str | None = None
    format: TextFormat = "markdown"


@dataclass(frozen=True)
class ParsedDocument:
    """A document split into sections, ready for chunking."""

    source: str
    title: str | None
    sections: list[Section]


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def parse_bytes(source: str, name: str, data: bytes) -> ParsedDocument:
    """Parse file contents by the extension of `name`.

    Raises `DocumentLoadError` naming `source` when the type is unsupported, the text is not valid
    UTF-8 or the file cannot be parsed.
    """
    suffix = Path(name).suffix.lower()
    if suffix in PDF_SUFFIXES:
        return ParsedDocument(source, *_pdf_sections(source, name, data))
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentLoadError(
            source,
            f"unsupported file type {suffix or '(no extension)'!r}; supported: {sorted(SUPPORTED_SUFFIXES)}",
        )
    text = _decode(source, data)
    if suffix in HTML_SUFFIXES:
        return ParsedDocument(source, *_html_sections(text, fallback_title=name))
    text_format: TextFormat = "markdown" if suffix in MARKDOWN_SUFFIXES else "plain"
    return parse_text(SourceDocument(source=source, text=text, title=None, format=text_format), name)


def parse_text(document: SourceDocument, fallback_title: str | None = None) -> ParsedDocument:
    """Split an in-memory document: Markdown by its headings, plain text as one section.

    The title is `document.title`, else a Markdown document's first level-1 heading, else
    `fallback_title`. Text before the first heading, and plain text, get the title as heading.
    """
    if document.format == "markdown":
        first_h1, sections = _markdown_sections(document.text, document.title or fallback_title or "")
        return ParsedDocument(document.source, document.title or first_h1 or fallback_title, sections)
    title = document.title or fallback_title
    sections = [Section(heading=title or "", text=document.text)] if document.text.strip() else []
    return ParsedDocument(document.source, title, sections)


def _decode(source: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentLoadError(
            source,
            f"not valid UTF-8 (byte {exc.start}: {exc.reason}); convert the file to UTF-8 and ingest it again",
        ) from exc
    return text.removeprefix("\ufeff")


def _markdown_sections(text: str, title: str) -> tuple[str | None, list[Section]]:
    """Split Markdown at its headings, and return the first level-1 heading and the sections.

    markdown-it finds the headings, so a `#` line inside a code block does not split a section.
    Section text is the raw Markdown between headings, without the heading line itself.
    """
    lines = text.splitlines(keepends=True)
    tokens = _markdown.parse(text)
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    first_h1: str | None = None
    heading = title
    body_start = 0
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        sections.append(Section(heading, "".join(lines[body_start : token.map[0]])))
        level = int(token.tag[1])
        name = tokens[index + 1].content.strip()
        if level == 1 and first_h1 is None:
            first_h1 = name
        path = [entry for entry in path if entry[0] < level]
        path.append((level, name))
        heading = HEADING_SEPARATOR.join(entry[1] for entry in path)
        body_start = token.map[1]
    sections.append(Section(heading, "".join(lines[body_start:])))
    return first_h1, [section for section in sections if section.text.strip()]


def _html_sections(html: str, *, fallback_title: str) -> tuple[str | None, list[Section]]:
    """Split HTML at h1-h6 elements, dropping script, style and the document head."""
    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag is not None else ""
    for tag in soup.find_all(HTML_DROPPED):
        tag.decompose()
    first_h1 = soup.find("h1")
    if not title and first_h1 is not None:
        title = first_h1.get_text(" ", strip=True)
    title = title or fallback_title

    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    heading = title
    parts: list[str] = []
    for node in soup.descendants:
        if isinstance(node, Tag) and node.name in HTML_HEADINGS:
            sections.append(Section(heading, _normalize_whitespace("".join(parts))))
            parts = []
            level = int(node.name[1])
            path = [entry for entry in path if entry[0] < level]
            path.append((level, node.get_text(" ", strip=True)))
            heading = HEADING_SEPARATOR.join(entry[1] for entry in path)
        elif isinstance(node, Tag) and node.name in HTML_BLOCKS:
            parts.append("\n")
        elif (
            isinstance(node, NavigableString)
            and not isinstance(node, PreformattedString)
            and node.find_parent(HTML_HEADINGS) is None
        ):
            parts.append(str(node))
    sections.append(Section(heading, _normalize_whitespace("".join(parts))))
    return title, [section for section in sections if section.text]


def _normalize_whitespace(text: str) -> str:
    lines = [SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _pdf_sections(source: str, name: str, data: bytes) -> tuple[str | None, list[Section]]:
    """Extract text page by page, one section per page with the heading "page N"."""
    # pypdf reports malformed files through its own errors and, for some damaged structures, through
    # plain ValueError, KeyError, IndexError or TypeError raised while walking the object tree.
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentLoadError(source, "the PDF is encrypted. Remove the password and ingest it again")
        metadata_title = reader.metadata.title if reader.metadata is not None else None
        sections = [
            Section(heading=f"page {number}", text=page.extract_text() or "")
            for number, page in enumerate(reader.pages, start=1)
        ]
    except DocumentLoadError:
        raise
    except (PyPdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise DocumentLoadError(source, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    title = metadata_title.strip() if isinstance(metadata_title, str) and metadata_title.strip() else name
    return title, [section for section in sections if section.text.strip()]
