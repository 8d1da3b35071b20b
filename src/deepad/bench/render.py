"""A small document model (headings, paragraphs, lists, tables, images) and its two renderings:
Markdown next to the PNG files, and one self-contained HTML page.

The HTML page carries its CSS in a ``<style>`` element and every image as a base64
``data:image/png`` URI, so the single file can be mailed or attached; it links to nothing.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ccc; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: .15em; margin-top: 1.8em; }
.scroll { overflow-x: auto; margin: .6em 0 1.2em; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f1f3f5; }
td:first-child, th:first-child { text-align: left; }
td.text { text-align: left; white-space: normal; min-width: 20em; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0 1.4em; }
""".strip()


@dataclass(frozen=True)
class Heading:
    """A section title; ``level`` 1 is the page title."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Plain text (no markup)."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of plain-text items."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells.

    Attributes
    ----------
    header : tuple of str
    rows : tuple of tuple of str
    bold : frozenset of (row, column)
        Cells shown in bold.
    text_columns : frozenset of int
        Columns of free text (left-aligned, wrapped in HTML).
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    bold: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    text_columns: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Image:
    """A PNG written next to the report; Markdown links it, HTML embeds it."""

    path: Path
    alt: str


Block = Heading | Paragraph | Bullets | Table | Image


# ---------------------------------------------------------------------------- Markdown
def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|") or " "


def _md_table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(h) for h in table.header) + " |",
             "|" + "|".join(":---" if i == 0 or i in table.text_columns else "---:"
                            for i in range(len(table.header))) + "|"]
    for r, row in enumerate(table.rows):
        cells = [f"**{_md_cell(c)}**" if (r, i) in table.bold and c.strip() else _md_cell(c)
                 for i, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def to_markdown(blocks: list[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown; images link to their file name."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            out.append("\n".join(_md_table(block)))
        else:
            out.append(f"![{block.alt}]({block.path.name})")
    return "\n\n".join(out) + "\n"


# ---------------------------------------------------------------------------- HTML
def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for r, row in enumerate(table.rows):
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(cell)
            if (r, i) in table.bold:
                text = f"<strong>{text}</strong>"
            css = ' class="text"' if i in table.text_columns else ""
            cells.append(f"<td{css}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def data_uri(path: Path) -> str:
    """The PNG at ``path`` as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def to_html(blocks: list[Block], title: str) -> str:
    """Render blocks as one self-contained HTML page (inline CSS, images as data URIs)."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{html.escape(item)}</li>" for item in block.items)
            parts.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            parts.append(_html_table(block))
        else:
            parts.append(f'<img alt="{html.escape(block.alt)}" src="{data_uri(block.path)}">')
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
