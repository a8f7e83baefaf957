"""A linter for HTML mail as clients render it (issue 11, mail-client checks).

Foxmail, Outlook (Word's engine), QQ Mail and phone clients render a narrow, old subset
of HTML. ``lint_mail_html`` returns what in a message's HTML they would break on:

* **external resources**: any ``src``/``background``/``srcset`` that is not ``cid:`` (or
  ``data:``), ``<link>``, ``<script>``, ``<iframe>``/``<object>``/``<embed>``/``<form>``,
  ``url(…)`` in a style: blocked by clients, and a tracker where they are not;
* **inline styles only**: no ``<style>`` element (stripped by many webmail clients);
* **table layout**: the body's layout is a table, no ``display:flex|grid``, ``float`` or
  ``position``; no text or ``<br>`` directly inside ``<table>``/``<tr>`` (browsers move it
  out of the table: the blank screens of issue 11);
* **width ≤ 640 px**: no ``width`` attribute or CSS ``width``/``min-width`` in px above
  640 (a fixed ``width`` inside an MSO conditional comment is Outlook's and allowed);
* **images with alt text**: every ``<img>`` has a non-empty ``alt``.

Links (``<a href>``) are not resources and may point anywhere.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_WIDTH_PX = 640
_FORBIDDEN_TAGS = {"script", "link", "iframe", "object", "embed", "form", "style", "frame", "frameset", "base"}
_TABLE_CONTAINERS = {"table", "tbody", "thead", "tfoot", "tr"}
_LOCAL = ("cid:", "data:")


class _Linter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.stack: list[str] = []
        self.first_layout: str | None = None

    def _where(self) -> str:
        return "/".join(self.stack[-3:]) or "document"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag in _FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> is not allowed in mail (external resource, script or stylesheet)")
        if tag == "br" and self.stack and self.stack[-1] in _TABLE_CONTAINERS:
            self.problems.append(f"<br> directly inside <{self.stack[-1]}> ({self._where()}): clients move it out of the table")
        if self.stack and self.stack[-1] == "body" and self.first_layout is None:
            self.first_layout = tag
        for name in ("src", "background", "srcset", "poster"):
            value = attributes.get(name, "").strip()
            if value and not value.lower().startswith(_LOCAL):
                self.problems.append(f"<{tag} {name}={value[:60]!r}> loads an external resource")
        if tag == "img" and not attributes.get("alt", "").strip():
            self.problems.append(f"<img src={attributes.get('src', '')[:40]!r}> has no alt text")
        width = attributes.get("width", "").strip()
        if width.isdigit() and int(width) > MAX_WIDTH_PX:
            self.problems.append(f'<{tag} width="{width}"> is wider than {MAX_WIDTH_PX} px')
        self._style(tag, attributes.get("style", ""))
        if tag not in ("br", "img", "meta", "hr", "input", "col", "area", "wbr", "source"):
            self.stack.append(tag)

    def _style(self, tag: str, style: str) -> None:
        css = style.lower()
        if "url(" in css or "@import" in css or "expression(" in css:
            self.problems.append(f"<{tag} style> loads a resource (url/@import/expression)")
        if re.search(r"display\s*:\s*(flex|grid|inline-flex|inline-grid)", css):
            self.problems.append(f"<{tag} style> uses flex/grid layout: use tables")
        if re.search(r"(?<![-\w])float\s*:\s*(left|right)", css) or re.search(r"position\s*:\s*(absolute|fixed|sticky)", css):
            self.problems.append(f"<{tag} style> uses float/position: use tables")
        for prop, value in re.findall(r"(?<![-\w])(width|min-width)\s*:\s*(\d+(?:\.\d+)?)px", css):
            if float(value) > MAX_WIDTH_PX:
                self.problems.append(f"<{tag} style> {prop}:{value}px is wider than {MAX_WIDTH_PX} px")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if data.strip() and self.stack and self.stack[-1] in _TABLE_CONTAINERS:
            self.problems.append(f"text {data.strip()[:30]!r} directly inside <{self.stack[-1]}>: clients move it out")


def lint_mail_html(html: str) -> list[str]:
    """What in ``html`` mail clients would break on (see the module docstring); [] = clean."""
    # Outlook's own fixed-width scaffolding lives in MSO conditional comments: not HTML others see.
    linter = _Linter()
    linter.feed(re.sub(r"<!--\[if mso\]>.*?<!\[endif\]-->", "", html, flags=re.S))
    linter.close()
    problems = list(linter.problems)
    if linter.first_layout not in (None, "table"):
        problems.append(f"the body's layout starts with <{linter.first_layout}>, not a table")
    return problems
