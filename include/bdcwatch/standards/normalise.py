"""Normalisation of compared values (CONTRACT §5): certificate numbers and holder sets.

Pure functions, no I/O. A value normalised here is compared as written elsewhere: the
extraction stores the normalised forms beside the source's own text.
"""

from __future__ import annotations

import re

_HOLDER_SEPARATORS = re.compile(r"[、,，;；]")
_WHITESPACE = re.compile(r"\s+")
_CANCELLED_SUFFIX = "(销)"

# Fold full-width ASCII (U+FF01..U+FF5E) to ASCII; NFKC would also do it but would touch
# CJK compatibility characters that are legitimately part of place names.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


def normalize_certificate_number(raw: str | None) -> str | None:
    """Normalize a 不动产权证书/证明 number for comparison.

    Full-width parentheses and digits become ASCII, all whitespace goes, and a trailing
    ``(销)`` (marking a cancelled paper certificate) is dropped. ``None`` stays ``None``.

    >>> normalize_certificate_number("晋（2026）阳泉市不动产权第００01234号(销)")
    '晋(2026)阳泉市不动产权第0001234号'
    """
    if raw is None:
        return None
    text = _WHITESPACE.sub("", str(raw).translate(_FULLWIDTH))
    while text.endswith(_CANCELLED_SUFFIX):
        text = text[: -len(_CANCELLED_SUFFIX)]
    return text


def normalize_holders(raw: str | None) -> str:
    """Return a canonical form of a holder list, so that two lists compare as sets.

    Names are split on 、 , ， ; ；, stripped, de-duplicated and sorted, then joined by 、.
    An empty or missing list normalizes to the empty string.
    """
    if raw is None:
        return ""
    names = {part.strip() for part in _HOLDER_SEPARATORS.split(str(raw))}
    names.discard("")
    return "、".join(sorted(names))


