"""The dirty-source world (issue 10): the demo's rows as vendor databases really hold them.

``generate(..., dirty=True)`` writes the same world through :class:`DirtyWorld`. Every
quirk is one that CONTRACT §5 and §6 say an engine must read back as the clean value, so
the ground truth is the clean world's; the one renaming (staff ids become numbers) is
applied to the truth by :meth:`DirtyWorld.rename_truth`.

* **Integer ids and codes.** YWH and ZXYWH (BIGINT), QLLX, DJDL, QXDM and RYBH (INTEGER)
  on every dialect; on SQLite the case steps' staff ids (SLRYBH ...) too, where INTEGER
  affinity keeps an unknown ``HN12345`` as text beside the numbers. Staff ids
  ``{unit}{nnn}`` become ``10000 × (unit's position in the policy + 1) + nnn`` (bijective;
  mistyped and broker ids keep their text). QLLX is NULL on 查封 cases (no right is
  registered; limit class and online scope follow DJDL 800 either way).
* **Timestamps.** SQLite: text, one style per row (naive local, ISO with ``+08:00``, the
  same instant in UTC with ``Z`` or ``+00:00``). PostgreSQL: ``timestamptz`` written as
  aware instants (the tests' server zone is UTC). MariaDB: ``TIMESTAMP`` written from a
  session in the policy zone's offset, with ``sql_mode=''``.
* **NULL as a vendor writes it** in nullable timestamp and date columns: SQLite ``''``,
  ``' '`` or ``'0000-00-00 00:00:00'``; MariaDB the zero date.
* **Free text** (THYY, SHYJ, CFJG) with control characters and, in THYY and SHYJ, ID
  numbers as people write them (legacy 15 digits, full width with ``Ｘ``, grouped with
  spaces, lower-case ``x``); holder ID columns (QLRZJH, CZZTDM) partly legacy or full width.
* **Look-alikes.** Some holder names become minority names: ``·`` (U+00B7) on the paper
  certificate, another §5 middle dot (sometimes with a zero-width character) on the
  e-certificate; some e-certificate numbers carry §5 bracket variants, U+3000, NBSP or
  invisible characters.
* **A table without a primary key.** The provincial e-certificate table is read through a
  replica view without one (BDC_DZZZ_ZZXX, every dialect), and a replication that
  applied a change twice left about one row in fifty written twice, value for value: the
  engine stages each once and counts the repeats (``load_log.rows_repeated``).

Choices are made by a hash of (seed, table, row key, purpose): the same seed gives the
same quirks, whatever the batch size (only which of two holder names hashing to the same
minority name keeps its Han name follows the order rows are written in).
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Column, Date, DateTime, Engine, Integer, MetaData, String, Table, event
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine, UserDefinedType

from bdcwatch.config.policy import Policy
from bdcwatch.sources.coerce import column_kinds
from bdcwatch.sources.connections import session_offset
from bdcwatch.sources.schema import SOURCE_TABLES, build_metadata
from bdcwatch.standards.identifiers import id_number_check_character

if TYPE_CHECKING:
    from bdcwatch.demo.generator import GroundTruth

__all__ = ["DirtyWorld", "id_number_forms"]

_SERVERS = ("postgresql", "mysql", "mariadb")
_BIG_IDS = frozenset({"YWH", "ZXYWH"})
_INT_CODES = frozenset({"QLLX", "DJDL", "QXDM"})
_STAFF_KEY = "RYBH"  # RY_JBXX and RY_PXJL: numbers only, an integer column everywhere
_STEP_IDS = frozenset({"SLRYBH", "SHRYBH", "DBRYBH", "CZRYBH"})  # may hold unknown, non-numeric ids
_FREE_TEXT = ("THYY", "SHYJ", "CFJG")
_WITH_ID_TEXT = frozenset({"THYY", "SHYJ"})  # CFJG (VARCHAR 100) names a court, no person
_HOLDER_IDS = ("QLRZJH", "CZZTDM")
_CONTROL = ("\x0b", "\x1f", "\x0c", "\x07", "\x1b", "\x7f", "\r\n", "\t")
_ID_TEXT = (
    "申请人身份证号{}与公安户籍信息不一致，请核实后重新申请",
    "委托代理人（身份证{}）未提供授权委托书",
    "原身份证号{}已换领新证，材料中证件号不一致",
)
_ID_AREAS = ("140302", "140303", "140311", "140321", "110105", "410102")
_FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
_MINORITY_GIVEN = ("阿卜来提", "买买提", "艾力", "阿依古丽", "热依拉", "努尔兰", "吐尔逊", "古丽娜尔", "帕提古丽", "阿不都")
_MINORITY_FAMILY = ("如则托合提", "艾买提", "吐尔地", "阿不都拉", "依明", "卡德尔", "热合曼", "司马义", "尼亚孜", "库尔班")
_PAPER_DOT = "\u00b7"
_OTHER_DOTS = ("\u2022", "\u2027", "\u30fb", "\uff65", "\uff0e", "\u0387", "\u22c5")
_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_BRACKETS = (("〔", "〕"), ("【", "】"), ("［", "］"))
_SPACES = ("\u3000", "\u00a0", " ", *_INVISIBLE)
_HOLDER_SPLIT = re.compile(r"([、,，;；/／])")
_YEAR_PARENS = re.compile(r"^(.)[(（]([0-9０-９]{4})[)）]")
_STAFF_ID = re.compile(r"^([A-Z]{2}[0-9A-Z]{2})(\d{3})$")
_KEYLESS = frozenset({"BDC_DZZZ_ZZXX"})  # read through a replica view without a primary key
_WRITTEN_TWICE = 50  # about one row in this many of a keyless table is written twice


class _Raw(UserDefinedType[Any]):
    """A SQLite column declared ``ddl`` (which sets its affinity) whose values reach the
    driver as given: the dirty writer hands it text, integers or NULL itself."""

    cache_ok = True

    def __init__(self, ddl: str) -> None:
        self.ddl = ddl

    def get_col_spec(self, **_kw: Any) -> str:
        return self.ddl


def id_number_forms(seed: int) -> dict[str, str]:
    """One made-up person's ID number in every form CONTRACT §6 names: ``plain`` (18),
    ``lower_x`` and ``fullwidth`` (18 with a check X, ``x`` / ``Ｘ``), ``legacy`` (15),
    ``grouped`` (6 8 4 with spaces), ``grouped4`` (6 4 4 4). Deterministic in ``seed``."""
    area = _ID_AREAS[seed % len(_ID_AREAS)]
    birth = f"{1950 + seed % 50}{1 + seed // 7 % 12:02d}{1 + seed // 97 % 28:02d}"
    serial = seed // 11 % 900 + 100
    plain = f"{area}{birth}{serial:03d}"
    plain += id_number_check_character(plain)
    for step in range(11):  # a check character X within 11 serials
        body = f"{area}{birth}{(serial + step) % 1000:03d}"
        if id_number_check_character(body) == "X":
            break
    with_x = body + "X"
    return {
        "plain": plain,
        "lower_x": with_x.lower(),
        "fullwidth": with_x.translate(_FULLWIDTH),
        "legacy": plain[:6] + plain[8:17],
        "grouped": f"{plain[:6]} {plain[6:14]} {plain[14:]}",
        "grouped4": f"{with_x[:6]} {with_x[6:10]} {with_x[10:14]} {with_x[14:]}",
    }


class DirtyWorld:
    """Column types and row rewrites of the dirty world (see the module docstring).

    Args:
        seed: the generator's seed (the quirks' only randomness).
        policy: the supervision policy: its time zone (the instants written) and its unit
            order (the staff-id numbering).
    """

    def __init__(self, seed: int, policy: Policy) -> None:
        self.seed = seed
        self.zone: tzinfo = policy.timezone
        self.mysql_offset = session_offset(self.zone)  # the offset the engine reads MariaDB through
        self._unit_number = {code: 10_000 * (i + 1) for i, code in enumerate(policy.units)}
        self._minority: dict[str, str] = {}
        self._taken: set[str] = set()
        self._reference = build_metadata()
        self._kinds: dict[str, dict[str, tuple[str, bool]]] = {
            t.name: {c.name: (column_kinds(t.name)[c.name], bool(c.nullable)) for c in t.columns}
            for t in self._reference.tables.values()
        }

    # -- schema ---------------------------------------------------------------------------
    def metadata(self) -> MetaData:
        """The reference tables with the dirty world's column types, per dialect."""
        md = MetaData()
        for table in self._reference.tables.values():
            columns = [
                Column(c.name, self._type(table.name, c.name, c.type), key=c.key,
                       primary_key=c.primary_key and table.name not in _KEYLESS,
                       nullable=c.nullable, autoincrement=False, server_default=c.server_default)
                for c in table.columns
            ]
            Table(table.name, md, *columns)
        return md

    def _type(self, table: str, name: str, reference: TypeEngine[Any]) -> TypeEngine[Any]:
        kind = self._kinds[table][name][0]
        if kind == "timestamp":
            return _Raw("DATETIME").with_variant(DateTime(timezone=True), "postgresql").with_variant(
                mysql.TIMESTAMP(), "mysql", "mariadb")
        if kind == "date":
            return _Raw("DATE").with_variant(Date(), *_SERVERS)
        if name in _BIG_IDS:
            return _Raw("BIGINT").with_variant(BigInteger(), *_SERVERS)
        if name in _INT_CODES or (name == _STAFF_KEY and table in ("RY_JBXX", "RY_PXJL")):
            return _Raw("INTEGER").with_variant(Integer(), *_SERVERS)
        if name in _STEP_IDS:
            return _Raw("INTEGER").with_variant(String(32), *_SERVERS)
        return reference

    def prepare_engine(self, engine: Engine) -> None:
        """MariaDB: every session of the writer in the policy zone's offset (how TIMESTAMP
        values come to be stored as UTC) and lax (zero dates allowed)."""
        if engine.dialect.name not in ("mysql", "mariadb"):
            return
        statement = f"SET SESSION time_zone = '{self.mysql_offset}', sql_mode = ''"

        @event.listens_for(engine, "connect")
        def _session(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(statement)
            cursor.close()

    # -- rows -----------------------------------------------------------------------------
    def rewrite(self, table: str, rows: list[dict[str, Any]], dialect: str) -> list[dict[str, Any]]:
        """Copies of ``rows`` (the clean values, never changed in place) as ``dialect``'s
        vendor database holds them; in a table without a primary key, some rows twice, the
        copy right after the row (same values, so the truth is unchanged)."""
        written = [self._row(table, row, dialect) for row in rows]
        if table not in _KEYLESS:
            return written
        twice: list[dict[str, Any]] = []
        for row in written:
            twice.append(row)
            key = "|".join(str(row[k]) for k in SOURCE_TABLES[table].key)
            if self._roll(table, key, "twice", _WRITTEN_TWICE) == 0:
                twice.append(dict(row))
        return twice

    def _roll(self, table: str, key: str, purpose: str, n: int) -> int:
        return zlib.crc32(f"{self.seed}|{table}|{key}|{purpose}".encode()) % n

    def _row(self, table: str, clean: dict[str, Any], dialect: str) -> dict[str, Any]:
        key = "|".join(str(clean[k]) for k in SOURCE_TABLES[table].key)
        row = dict(clean)
        server = dialect in _SERVERS
        if table == "DJT_DJ_SL" and row.get("DJDL") == "800":
            row["QLLX"] = None
        for name, (kind, nullable) in self._kinds[table].items():
            value = row.get(name)
            if name in _STEP_IDS or (name == _STAFF_KEY and table in ("RY_JBXX", "RY_PXJL")):
                value = self.staff_id(value)
                if value is not None and value.isdigit() and not (server and name in _STEP_IDS):
                    value = int(value)
            elif name in _BIG_IDS or name in _INT_CODES:
                value = None if value is None else int(value)
            elif kind in ("timestamp", "date"):
                value = self._moment(table, key, value, kind, nullable, dialect)
            row[name] = value
        for name in _FREE_TEXT:
            if row.get(name):
                row[name] = self._free_text(table, key, name, row[name])
        for name in _HOLDER_IDS:
            if row.get(name):
                row[name] = self._holder_ids(table, key, row[name])
        if table == "BDC_ZS":
            row["QLRMC"] = self._holders(row["QLRMC"], None)
        elif table == "BDC_DZZZ_ZZXX":
            row["CZZT"] = self._holders(row["CZZT"], self._roll(table, key, "dot", 1 << 16))
            row["BDCQZH"] = self._certificate_number(table, key, row["BDCQZH"])
        return row

    def _moment(self, table: str, key: str, value: Any, kind: str, nullable: bool, dialect: str) -> Any:
        if value is None:
            if not nullable or dialect == "postgresql":
                return None
            blanks = ("", " ", "0000-00-00 00:00:00") if dialect == "sqlite" else ("0000-00-00 00:00:00",)
            if kind == "date":
                blanks = ("", " ", "0000-00-00") if dialect == "sqlite" else ("0000-00-00",)
            choice = self._roll(table, key, "null", 2 * len(blanks))
            return None if choice >= len(blanks) else blanks[choice]
        if kind == "date":
            return value.isoformat() if dialect == "sqlite" else value
        if dialect in ("mysql", "mariadb"):
            return value  # naive local time, written through the session zone
        instant = value.replace(tzinfo=self.zone)
        style = self._roll(table, key, "zone", 4)
        if dialect == "postgresql":
            return instant if style < 2 else instant.astimezone(UTC)
        if style == 0:
            return value.isoformat(" ")
        if style == 1:
            return instant.isoformat()
        utc = instant.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat("T") + "Z" if style == 2 else utc.isoformat(" ") + "+00:00"

    def _free_text(self, table: str, key: str, name: str, text: str) -> str:
        if name in _WITH_ID_TEXT and self._roll(table, key, name + "id", 3) == 0:
            forms = id_number_forms(zlib.crc32(f"{self.seed}|{table}|{key}".encode()))
            form = list(forms.values())[self._roll(table, key, name + "form", len(forms))]
            text = f"{text}；{_ID_TEXT[self._roll(table, key, name + 'tpl', len(_ID_TEXT))].format(form)}"
        if self._roll(table, key, name + "ctl", 3) == 0:
            at = self._roll(table, key, name + "at", max(1, len(text)))
            text = text[:at] + _CONTROL[self._roll(table, key, name + "ch", len(_CONTROL))] + text[at:]
        return text

    def _holder_ids(self, table: str, key: str, text: str) -> str:
        choice = self._roll(table, key, "holder_id", 5)
        parts = text.split("、")
        if choice == 0:  # certificates issued before 1999 keep the holder's legacy number
            parts = [p[:6] + p[8:17] if len(p) == 18 else p for p in parts]
        elif choice == 1:
            parts = [p.translate(_FULLWIDTH) for p in parts]
        return "、".join(parts)

    def _holders(self, text: str | None, dot_roll: int | None) -> str | None:
        """Minority names for some holders (a fixed, injective choice per clean name):
        ``·`` on the paper side (``dot_roll`` None), another dot on the e-certificate."""
        if not text:
            return text
        out = []
        for part in _HOLDER_SPLIT.split(text):
            name = part.strip()
            minority = self._minority_name(name) if name and not _HOLDER_SPLIT.fullmatch(name) else None
            if minority is None:
                out.append(part)
                continue
            dot = _PAPER_DOT
            if dot_roll is not None:
                dot = _OTHER_DOTS[dot_roll % len(_OTHER_DOTS)]
                if dot_roll // len(_OTHER_DOTS) % 3 == 0:
                    dot += _INVISIBLE[dot_roll % len(_INVISIBLE)]
            out.append(part.replace(name, minority.replace(_PAPER_DOT, dot)))
        return "".join(out)

    def _minority_name(self, name: str) -> str | None:
        if name in self._minority:
            return self._minority[name]
        pick = zlib.crc32(f"{self.seed}|name|{name}".encode())
        if pick % 100 >= 8:  # most holders keep their Han name
            return None
        given = _MINORITY_GIVEN[pick // 100 % len(_MINORITY_GIVEN)]
        family = _MINORITY_FAMILY[pick // 1000 % len(_MINORITY_FAMILY)]
        minority = f"{given}{_PAPER_DOT}{family}"
        if minority in self._taken:
            return None  # another name has it: two people must never become one
        self._taken.add(minority)
        self._minority[name] = minority
        return minority

    def _certificate_number(self, table: str, key: str, number: str) -> str:
        choice = self._roll(table, key, "bdcqzh", 40)  # about a quarter of the numbers
        if choice < len(_BRACKETS):
            left, right = _BRACKETS[choice]
            return _YEAR_PARENS.sub(lambda m: f"{m.group(1)}{left}{m.group(2)}{right}", number)
        if choice < len(_BRACKETS) + len(_SPACES):
            at = 1 + self._roll(table, key, "bdcqzh_at", max(1, len(number) - 1))
            return number[:at] + _SPACES[choice - len(_BRACKETS)] + number[at:]
        return number

    # -- staff ids and the truth ----------------------------------------------------------
    def staff_id(self, value: str | None) -> str | None:
        """A staff id as the dirty world writes it: roster-pattern ids as numbers."""
        if value is None:
            return None
        match = _STAFF_ID.match(value)
        if match is None or match.group(1) not in self._unit_number:
            return value
        return str(self._unit_number[match.group(1)] + int(match.group(2)))

    def rename_truth(self, truth: GroundTruth) -> GroundTruth:
        """The ground truth with staff ids renamed as written (changed in place and
        returned): STAFF_* subjects and RY_JBXX row keys. Nothing else changes."""
        from bdcwatch.demo.generator import Finding, QuarantinedRow, Trap  # generator imports this module

        def subject(rule: str, value: str) -> str:
            return (self.staff_id(value) or value) if rule.startswith("STAFF_") else value

        def row_key(table: str, value: str) -> str:
            return (self.staff_id(value) or value) if table == "RY_JBXX" else value

        truth.findings = sorted(Finding(f.rule_code, subject(f.rule_code, f.subject_id), f.unit_code)
                                for f in truth.findings)
        truth.quarantine = [QuarantinedRow(q.table, row_key(q.table, q.key), q.column) for q in truth.quarantine]
        truth.traps = [Trap(t.kind, t.table, row_key(t.table, t.key), t.note) for t in truth.traps]
        return truth
