"""Masking of personal data (CONTRACT §6): the one place that decides what an ID number
looks like in free text and how it is shown (first 3 and last 2 characters kept).

An ID number is any GB 11643 number as people write it (§6): 18 characters or the legacy
15, ASCII or full-width digits and ``X`` as people type it (``x``, ``Ｘ``, the IME's ``×``,
Cyrillic ``Х``, Roman ``Ⅹ``), with or without separators (up to six of: spaces of every
width, line breaks of every kind, invisible characters such as the soft hyphen, and every
hyphen and dash a keyboard or an input method gives: - ‐ ‑ ‒ – — ― − ﹣ －) between the
digit groups, anywhere in a text, whatever its check character, also written straight after
or before a word (``身份证140302…``, ``ID140302…``, ``…1234abc``).
Long codes that merely contain digits (BDCDYH, YWH, ZZBS, certificate numbers) are not ID
numbers: a match has no digit right before or after it; a 15-digit or separated form, or one
written straight after or before a Latin letter, must carry a plausible
birth date where GB 11643 puts one, or be grouped as ID numbers are written (6-8-4, 6-4-4-4,
fours; legacy 6-6-3), so a run of dates or a 16-digit case number is left as written.
"""

from __future__ import annotations

import json
import re
from typing import Any

_DIGIT = "0-9\uff10-\uff19"
_ALNUM = _DIGIT + "A-Za-z\uff21-\uff3a\uff41-\uff5a"
# The check character X as people type it: ASCII, full width, the IME's ×, Cyrillic Х/х,
# the Roman numeral Ⅹ/ⅹ (a mistyped number is still a person's number, §6).
_CHECK = _DIGIT + "Xx\uff38\uff58\u00d7\u0425\u0445\u2169\u2179"
# Between digit groups: spaces of every width, line breaks of every kind (a Word line break
# \v, \r\n, U+2028/9: a page or a mail client collapses them into one space), invisible
# characters (zero-width, soft hyphen U+00AD, U+034F, U+180E), and every dash.
_SEPARATOR = ("[ \t\n\r\v\f\u0085\u00a0\u00ad\u034f\u180e\u2000-\u200d\u2028\u2029\u202f\u205f\u2060"
              "\u3000\ufeff\\-\u2010-\u2015\u2212\ufe63\uff0d]")
MAX_GAP = 6  # separators between two digits of one number: a few spaces typed to align columns
_GAP = f"{_SEPARATOR}{{0,{MAX_GAP}}}"
_D = f"[{_DIGIT}]"
# 18 = 17 digits + check; 15 = 15 digits; separators may stand between any two characters.
_ID_LIKE = re.compile(
    f"(?<![{_DIGIT}])(?:{_D}(?:{_GAP}{_D}){{16}}{_GAP}[{_CHECK}]|{_D}(?:{_GAP}{_D}){{14}})(?![{_DIGIT}])"
)
_SEPARATORS = re.compile(_SEPARATOR)
_LETTER = re.compile("[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
# The groupings people write ID numbers in (area, birth date, sequence and check; fours):
# a number grouped so is one even when its birth date is mistyped (month 13), where a run
# of dates or a case number is grouped otherwise.
_ID_GROUPINGS = frozenset({(6, 8, 4), (6, 4, 4, 4), (4, 4, 4, 4, 2), (6, 6, 3), (4, 4, 4, 3)})
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)} | {
    cp: "X" for cp in (0xFF38, 0xFF58, ord("x"), 0x00D7, 0x0425, 0x0445, 0x2169, 0x2179)}


def mask(value: str | None, keep_head: int = 3, keep_tail: int = 2) -> str:
    """Mask personal data: keep the first 3 and last 2 characters (CONTRACT §6)."""
    if value is None:
        return ""
    text = str(value)
    if len(text) <= keep_head + keep_tail:
        return "*" * len(text)
    return text[:keep_head] + "*" * (len(text) - keep_head - keep_tail) + text[-keep_tail:]


def _plausible_birth_date(compact: str) -> bool:
    """GB 11643 puts YYYYMMDD at characters 7-14 (legacy 15: YYMMDD at 7-12)."""
    year, month, day = (compact[6:10], compact[10:12], compact[12:14]) if len(compact) == 18 else (
        "19" + compact[6:8], compact[8:10], compact[10:12])
    return year[:2] in ("18", "19", "20") and "01" <= month <= "12" and "01" <= day <= "31"


def id_number_text(token: str, *, after_letter: bool = False) -> str | None:
    """``token`` as a compact ASCII ID number (18 or 15 characters) when it is written as
    one in the sense of §6, else ``None``. ``after_letter``: the token follows a letter in
    its text (then only a plausible birth date makes it an ID number, not part of a code)."""
    compact = _SEPARATORS.sub("", token).translate(_FOLD)
    if len(compact) not in (15, 18) or not compact[:-1].isdigit():
        return None
    if len(compact) == 15 and not compact.isdigit():
        return None
    if len(compact) == 18 and compact == token and not after_letter:
        return compact  # a plain 18-character number is always masked, plausible or not
    if tuple(len(group) for group in _SEPARATORS.split(token) if group) in _ID_GROUPINGS:
        return compact  # grouped as ID numbers are written: masked even with a mistyped birth date
    return compact if _plausible_birth_date(compact) else None


def _mask_match(match: re.Match[str]) -> str:
    token, start, end = match.group(0), match.start(), match.end()
    # Beside a letter (``ID140302…``, ``…1234abc``) a number may be part of a code: only a
    # plausible birth date makes it an ID number there, and straight before a letter only
    # the 18-character form (15 digits before a letter are a case number's, a UUID's run).
    after_letter = start > 0 and _LETTER.match(match.string[start - 1]) is not None
    before_letter = end < len(match.string) and _LETTER.match(match.string[end]) is not None
    compact = id_number_text(token, after_letter=after_letter or before_letter)
    if compact is None or (before_letter and len(compact) != 18):
        return token
    return mask(token)


# A certificate number's serial (第0001234号) is seven digits; fifteen or more between 第 and
# 号 are something else typed into it (an ID number glued to the serial once §5's
# normalisation removed the space between them), masked whole.
_LONG_SERIAL = re.compile(f"(?<=第)[{_DIGIT}]{{15,}}(?=号)")


def mask_id_numbers(text: str) -> str:
    """Mask every ID number written in free text (§6) for emails, workbooks, logs and the
    quarantine: each keeps its first 3 and last 2 characters, the rest become ``*``."""
    return _ID_LIKE.sub(_mask_match, _LONG_SERIAL.sub(lambda m: mask(m.group(0)), text))


def mask_json_text(text: str) -> str:
    """``mask_id_numbers`` over every text inside a JSON document (a finding's detail),
    the document kept as JSON. Masking its raw text misses a number whose separators JSON
    escapes (a tab is the two characters ``\\t`` there); text that is not JSON is masked as
    text."""
    try:
        document = json.loads(text)
    except ValueError:
        return mask_id_numbers(text)

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return mask_id_numbers(value)
        if isinstance(value, list):
            return [masked(v) for v in value]
        if isinstance(value, dict):
            return {mask_id_numbers(str(k)): masked(v) for k, v in value.items()}
        return value

    return json.dumps(masked(document), ensure_ascii=False)
