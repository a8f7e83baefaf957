"""The text/plain alternative of a mail, derived from its HTML (for clients that show no
HTML, and for the ones that preview the first lines).

Our HTML is our own (Jinja templates in table layout), so a small reader of the standard
library's ``html.parser`` is enough, and it keeps the text in plain Chinese rather than
Markdown: paragraphs and table rows become lines, cells are joined by `` | ``, a link
shows its address after its text, an image its alt text. ``<head>``, ``<style>`` and
``<script>`` are skipped; MSO conditional comments are ignored.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "pre", "blockquote",
           "body", "section", "article", "header", "footer", "hr"}
_SECTIONS = {"p", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote"}  # blank line after
_CELLS = {"td", "th"}
_SKIPPED = {"head", "title", "style", "script"}


class _TextReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.cells_in_row = 0
        self.skipping = 0
        self.link: str | None = None
        self.link_text: list[str] = []
        self.pre = 0

    def _break(self, blank: bool = False) -> None:
        """End the current line; ``blank`` also leaves an empty line (between sections)."""
        text = re.sub(r"[ \t]+", " ", "".join(self.line)).strip()
        if text:
            self.lines.append(text)
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")
        self.line = []
        self.cells_in_row = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self._break()
        elif tag in _CELLS:
            if self.cells_in_row:
                self.line.append(" | ")
            self.cells_in_row += 1
        elif tag in _BLOCKS:
            self._break()
            if tag == "li":
                self.line.append("· ")
            if tag == "pre":
                self.pre += 1
        elif tag == "a":
            self.link, self.link_text = attributes.get("href"), []
        elif tag == "img":
            alt = (attributes.get("alt") or "").strip()
            if alt:
                self.line.append(f"[图：{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            # A one-cell row is a block of its own (a finding, a paragraph of the layout); a
            # row of several cells is a line of a data table.
            self._break(blank=tag in _SECTIONS or (tag == "tr" and self.cells_in_row <= 1))
        elif tag == "a" and self.link is not None:
            shown = "".join(self.link_text).strip()
            if self.link and self.link != shown and not self.link.startswith("#"):
                self.line.append(f"（{self.link}）")
            self.link = None

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.pre:
            for number, part in enumerate(data.split("\n")):
                if number:
                    self._break()
                self.line.append(part)
        else:
            self.line.append(re.sub(r"\s+", " ", data))
        if self.link is not None:
            self.link_text.append(data)


def html_to_text(html: str) -> str:
    """The readable text of ``html``: one line per paragraph or table row, no markup."""
    reader = _TextReader()
    reader.feed(html)
    reader.close()
    reader._break()
    return "\n".join(reader.lines).strip() + "\n"
