"""Masking of personal data (CONTRACT §6): the one place that decides what an ID number
looks like in free text and how it is shown (first 3 and last 2 characters kept)."""

from __future__ import annotations

import re


def mask(value: str | None, keep_head: int = 3, keep_tail: int = 2) -> str:
    """Mask personal data: keep the first 3 and last 2 characters (CONTRACT §6)."""
    if value is None:
        return ""
    text = str(value)
    if len(text) <= keep_head + keep_tail:
        return "*" * len(text)
    return text[:keep_head] + "*" * (len(text) - keep_head - keep_tail) + text[-keep_tail:]


# An 18-character ID number standing alone (not inside a longer code such as a BDCDYH).
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def mask_id_numbers(text: str) -> str:
    """Mask every ID-number-shaped token in free text (defence in depth for emails/logs)."""
    return _ID_LIKE.sub(lambda m: mask(m.group(0)), text)


