"""Normalisation of compared values (CONTRACT §5): certificate numbers and holder sets.

Pure functions, no I/O, and the one place the §5 look-alike lists live. Staging keeps the
source's own text beside the normalised forms (``bdcqzh`` / ``bdcqzh_norm``, ``qlrmc`` /
``holders_norm``): reports show what the source wrote, rules compare the normalised form.
"""

from __future__ import annotations

import re
import unicodedata

# §5 "Holder sets": the separators between names.
_HOLDER_SEPARATORS = re.compile("[、,，;；/／]")
# §5: whitespace of every kind (``\s`` is Unicode-aware: ASCII, NBSP, U+3000, ...).
_WHITESPACE = re.compile(r"\s+")
# §5: invisible characters (zero-width space and joiners U+200B–U+200D, word joiner U+2060, BOM U+FEFF).
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
# §5: a trailing (销) or (注销) on a cancelled paper certificate (after bracket folding).
_CANCELLED_SUFFIX = re.compile(r"\((?:注)?销\)$")  # §5: "a trailing (销) or (注销)": one

# Fold full-width ASCII (U+FF01..U+FF5E) to ASCII; NFKC would also do it but would touch
# CJK compatibility characters that are legitimately part of place names.
_CERTIFICATE_FOLD: dict[int, int | str] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_CERTIFICATE_FOLD[0x3000] = 0x20  # ideographic space (removed with the other whitespace)
# §5: the bracket variants 〔〕 【】 ［］ read as () (the full-width ［］ directly, not through the
# ASCII [], which §5 does not list: 晋[2026]… is not 晋(2026)…).
_CERTIFICATE_FOLD.update({ord("〔"): "(", ord("〕"): ")", ord("【"): "(", ord("】"): ")",
                          ord("［"): "(", ord("］"): ")"})

# §5: the middle-dot variants in minority names read as U+00B7.
MIDDLE_DOTS = "\u00b7\u2022\u2027\u30fb\uff65\uff0e\u0387\u22c5"
_MIDDLE_DOT_FOLD = {ord(c): "\u00b7" for c in MIDDLE_DOTS}

# A value none of the steps above would change is returned as it is: one regex search
# instead of a translation and three substitutions (most values a load reads are clean:
# issue 13 item 4). Each pattern lists every character a step touches; the property tests
# in tests/unit/test_codes.py hold the shortcut equal to the full steps.
_CERTIFICATE_TOUCHED = re.compile(
    "[\uff01-\uff5e\u3000〔〕【】\\[\\]\\s\u200b-\u200d\u2060\ufeff]|销\\)$")
_HOLDERS_TOUCHED = re.compile("[、,，;；/／" + MIDDLE_DOTS + "\u200b-\u200d\u2060\ufeff]|^\\s|\\s$")


def normalize_certificate_number(raw: str | None) -> str | None:
    """Normalize a 不动产权证书/证明 number for comparison (CONTRACT §5 "Certificate number").

    Full-width parentheses and digits become ASCII, the bracket variants 〔〕【】［］ read
    as (), whitespace of every kind and invisible characters go, and a trailing ``(销)``
    or ``(注销)`` (a cancelled paper certificate) is dropped. ``None`` stays ``None``.

    >>> normalize_certificate_number("晋〔2026〕阳泉市不动产权第００01234号（注销）")
    '晋(2026)阳泉市不动产权第0001234号'
    """
    if raw is None:
        return None
    raw = str(raw)
    return full_certificate_normalisation(raw) if _CERTIFICATE_TOUCHED.search(raw) else raw


def full_certificate_normalisation(raw: str) -> str:
    """Every §5 step of ``normalize_certificate_number``, without the shortcut for values
    they leave as they are."""
    text = _INVISIBLE.sub("", _WHITESPACE.sub("", raw.translate(_CERTIFICATE_FOLD)))
    return _CANCELLED_SUFFIX.sub("", text)


def without_blanks(raw: str | None) -> str:
    """``raw`` without whitespace of any kind or invisible characters (§5's lists): a code
    word typed into a form or a spreadsheet cell (" 不合格\u200b" reads 不合格)."""
    return _INVISIBLE.sub("", _WHITESPACE.sub("", raw or ""))


def code_key(raw: str | None) -> str:
    """A code or name as one thing however it was typed: full-width as ASCII (NFKC),
    without blanks or invisible characters, upper case (``ｙｑ00``, ``YQ 00\u200b`` and
    ``YQ00`` are one DJJG)."""
    return without_blanks(unicodedata.normalize("NFKC", raw or "")).upper()


def normalize_name(raw: str) -> str:
    """One holder's name for comparison (§5): middle-dot variants as U+00B7, invisible
    characters removed, surrounding whitespace stripped."""
    return _INVISIBLE.sub("", raw.translate(_MIDDLE_DOT_FOLD)).strip()


def normalize_holders(raw: str | None) -> str:
    """Return a canonical form of a holder list, so that two lists compare as sets (§5).

    Names are split on 、 , ， ; ； / ／, normalised (``normalize_name``), de-duplicated and
    sorted, then joined by 、. An empty or missing list normalizes to the empty string.

    >>> normalize_holders("阿卜来提•如则托合提／李四") == normalize_holders("李四、阿卜来提·如则托合提")
    True
    """
    if raw is None:
        return ""
    raw = str(raw)
    return full_holders_normalisation(raw) if _HOLDERS_TOUCHED.search(raw) else raw


def full_holders_normalisation(raw: str) -> str:
    """Every §5 step of ``normalize_holders``, without the shortcut for a single name
    they leave as it is."""
    names = {normalize_name(part) for part in _HOLDER_SEPARATORS.split(raw)}
    names.discard("")
    return "、".join(sorted(names))
