"""The quarantine: source rows the quality gate held back, one entry per row, column and
expectation, with the table, the row key and a reason an operator can act on. Personal
data is masked in the reason and in the kept copy of the row (CONTRACT §6)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from bdcwatch.sources.schema import SOURCE_TABLES
from bdcwatch.standards import masking
from bdcwatch.standards.normalise import normalize_certificate_number
from bdcwatch.store.dialect import upsert
from bdcwatch.store.models import quarantine

log = logging.getLogger(__name__)

PERSONAL_COLUMNS = frozenset({"QLRZJH", "CZZTDM", "ZJH"})
# A kept value is cut to this many characters: reason and row_json are TEXT (64 KB) on MySQL.
MAX_KEPT_CHARS = 1000


def clip(value: Any) -> Any:
    """A text value cut to ``MAX_KEPT_CHARS`` with its length said; anything else as is."""
    if isinstance(value, str) and len(value) > MAX_KEPT_CHARS:
        return f"{value[:MAX_KEPT_CHARS]}…（共 {len(value)} 字）"
    return value


# 15 digits with at most masking's widest gap between any two: what any ID number holds.
_MANY_DIGITS = re.compile(rf"(?:[0-9\uff10-\uff19][^0-9\uff10-\uff19]{{0,{masking.MAX_GAP}}}){{15}}")


KEY_DIGEST_CHARS = 3  # 12 bits (stored_key)


def stored_key(text: str) -> str:
    """A key text as the quarantine stores it (§6: no full ID number in a quarantine row):
    a key holding an ID number (staff keyed by 身份证号) is masked and given a short digest
    of the real key, so two people whose masked numbers look alike stay two entries (but
    for one pair in 4,096) and the entry is still found again by the same key. Short on
    purpose: the hidden middle of an ID number is a few million likely values, and a
    12-character digest let anyone who reads the quarantine page hash them all and find
    the one; three characters leave thousands of candidates. Other keys are kept as written."""
    text = text.replace("\x00", "\\x00")  # a NUL typed into a key: PostgreSQL stores no NUL in text
    if not _MANY_DIGITS.search(text):
        return text  # the common case, without the masker's regex
    masked = masking.mask_id_numbers(text)
    if masked == text:
        return text
    return f"{masked} #{hashlib.sha256(text.encode('utf-8')).hexdigest()[:KEY_DIGEST_CHARS]}"


def key_text(table_name: str, key: tuple[Any, ...]) -> str:
    """A row's key as an operator reads it: ``ZSID=ZS000123`` (``YWH=…, SXH=…`` for two
    columns); an ID number in it masked (``stored_key``)."""
    names = SOURCE_TABLES[table_name].key
    return stored_key(", ".join(f"{n}={v}" for n, v in zip(names, key, strict=True)))


def key_texts(table_name: str, keys: list[tuple[Any, ...]]) -> list[str]:
    """``key_text`` of many keys: a chunk's keys, to match them with open quarantine rows.
    A one-column key (most tables) is formatted without the join per key."""
    names = SOURCE_TABLES[table_name].key
    if len(names) != 1:
        return [key_text(table_name, key) for key in keys]
    prefix = f"{names[0]}="
    return [stored_key(f"{prefix}{value}") for (value,) in keys]


def _as_read(value: Any, encoding: str) -> Any:
    """A raw value as text when the driver gave bytes (a column read raw: decoded in the
    source's character set, the connection's ``charset`` extra), else unchanged."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode(encoding, errors="replace")
    return value


def _masked_row(raw: dict[str, Any], encoding: str) -> str:
    """The kept copy of a row: personal columns masked whole, and any ID number written
    in another column's text (a return reason, a handler id) masked too (§6)."""
    def shown(name: str, value: Any) -> Any:
        # Masked before it is clipped: an ID number across the cut keeps 17 digits the
        # masker no longer sees as one, and the 18th follows from them (§6).
        value = _as_read(value, encoding)
        if value is None:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)  # NaN is no JSON
        if isinstance(value, float) and value.is_integer() and abs(value) >= 1e14:
            value = int(value)  # an ID number in a REAL/DOUBLE column: 1.1010119900307451e+17 shows 17 digits
        if name in PERSONAL_COLUMNS:
            return clip(masking.mask(str(value)))
        if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
            # a number too: an ID number typed into a NUMBER/numeric column (Oracle, PostgreSQL)
            masked = masking.mask_id_numbers(str(value))
            return clip(masked) if masked != str(value) else clip(value)
        if isinstance(value, (list, tuple, dict)):  # a json/jsonb or array column: its JSON text, masked
            return clip(masking.mask_id_numbers(json.dumps(value, ensure_ascii=False, default=str)))
        return value

    return json.dumps({k: shown(k, v) for k, v in raw.items()}, ensure_ascii=False, default=str)


CERTIFICATE_TABLES = frozenset({"BDC_ZS", "BDC_DZZZ_ZZXX"})


def _certificate_number(table_name: str, raw: dict[str, Any], encoding: str) -> str | None:
    """The normalized BDCQZH of a held certificate or e-certificate row (as staging keeps
    it, CONTRACT §5), so the e-certificate rules know its counterpart is matched by a row
    held back rather than missing; None for other tables or a blank number."""
    if table_name not in CERTIFICATE_TABLES:
        return None
    value = _as_read(raw.get("BDCQZH"), encoding)
    if value is None or not str(value).strip():
        return None
    normalized = normalize_certificate_number(str(value).replace("\x00", ""))  # as staging reads it (as_text)
    return normalized[:120] if normalized else None


def hold(
    conn: Connection,
    table_name: str,
    problems: list[Any],
    raw_records: list[dict[str, Any]],
    keys: list[tuple[Any, ...]],
    load_id: str,
    now: datetime,
    encoding: str = "utf-8",
) -> None:
    """Put the rows with ``problems`` in quarantine (upsert: a row already there keeps its
    first_seen_at), each entry naming table, key, column and reason. ``encoding``: the
    source's character set, for values the driver gave as bytes."""
    by_key = dict(zip(keys, raw_records, strict=True))
    # Rows whose key is unusable (NULL, too long, not a number: None) share one entry per
    # column; the reason says how many rows it stands for (each is counted in load_log).
    sharing = Counter(keys)
    rows = []
    for problem in problems:
        raw_row = by_key[problem.key]
        value = _as_read(raw_row.get(problem.column), encoding)
        if isinstance(value, float) and value.is_integer() and abs(value) >= 1e14:
            value = int(value)  # an ID number in a REAL column: repr's 1.1010119900307451e+17 shows 17 digits
        # Masked before repr(): repr writes NBSP or U+3000 between digit groups as escapes
        # the masker would no longer see as separators; and before it is clipped (an ID
        # number across the cut would keep 17 digits, §6). A number too (a NUMBER column).
        if value is None:
            shown = None
        elif problem.column in PERSONAL_COLUMNS:
            shown = clip(masking.mask(str(value)))
        elif isinstance(value, str):
            shown = clip(masking.mask_id_numbers(value))
        elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            masked_number = masking.mask_id_numbers(str(value))
            shown = masked_number if masked_number != str(value) else value
        else:
            shown = value
        row_key = key_text(table_name, problem.key)
        reason = masking.mask_id_numbers(
            f"{table_name} [{row_key}] column {problem.column}: value {shown!r} — {problem.description}"
            + (f" ({sharing[problem.key]} rows of this chunk have this key; the value shown is the last one's)"
               if sharing[problem.key] > 1 else "")
        )
        log.warning("quarantined %s", reason)
        rows.append(
            {
                "source_table": table_name, "row_key": row_key, "column_name": problem.column,
                "expectation": problem.expectation, "reason": reason, "row_json": _masked_row(raw_row, encoding),
                "first_seen_at": now, "last_seen_at": now, "last_load_id": load_id, "resolved_at": None,
                "bdcqzh_norm": _certificate_number(table_name, raw_row, encoding),
            }
        )
    # Keep first_seen_at of a row already in quarantine: upsert everything else.
    existing = {
        (r.row_key, r.column_name, r.expectation): r.first_seen_at
        for r in conn.execute(
            select(quarantine.c.row_key, quarantine.c.column_name, quarantine.c.expectation, quarantine.c.first_seen_at)
            .where(quarantine.c.source_table == table_name)
            .where(quarantine.c.row_key.in_({r["row_key"] for r in rows}))
        )
    }
    unique: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        identity = (row["row_key"], row["column_name"], row["expectation"])
        row["first_seen_at"] = existing.get(identity, now)
        unique[identity] = row  # one entry per row, column and expectation, even for odd keys
    upsert(conn, quarantine, list(unique.values()), ["source_table", "row_key", "column_name", "expectation"])


def release_fixed(conn: Connection, table_name: str, good_keys: list[tuple[Any, ...]], now: datetime) -> None:
    """A row that passes now closes its open quarantine entries (the source was fixed)."""
    open_keys = set(
        conn.execute(
            select(quarantine.c.row_key)
            .where(quarantine.c.source_table == table_name)
            .where(quarantine.c.resolved_at.is_(None))
        ).scalars()
    )
    if not open_keys:
        return
    fixed = [k for k in key_texts(table_name, good_keys) if k in open_keys]
    if fixed:
        conn.execute(
            update(quarantine)
            .where(quarantine.c.source_table == table_name)
            .where(quarantine.c.row_key == bindparam("k"))
            .where(quarantine.c.resolved_at.is_(None))
            .values(resolved_at=now),
            [{"k": k} for k in fixed],
        )
