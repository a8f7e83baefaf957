"""Files people drop for the engine: how their text is decoded, how their table is read,
and where they go once taken in.

**Encoding** (``detect_encoding``), in this order: a byte-order mark decides (UTF-8 BOM →
``utf-8-sig``, as Excel's "CSV UTF-8" writes; UTF-16 BOM → ``utf-16``); else the bytes
are tried as strict UTF-8; else as strict GB18030, the superset of GBK/GB2312 that 12345
and most Chinese government systems export in. UTF-8 goes first because Chinese text in
GBK is almost never valid UTF-8 (its lead bytes 0x81–0xFE would need exact continuation
bytes), while ASCII-only files read the same either way. Bytes that are neither are
refused with the position of the first bad byte (``IntakeFileError``), never guessed.

**Tables** (``read_table``): a CSV (delimiter sniffed among comma, tab, semicolon; quotes
are always ``"``, as every export writes them, never guessed from the data) or the first
sheet of an XLSX. The header is the first non-empty row naming the caller's required
columns (a title row above it is skipped), else the first non-empty row; each data row
keeps its row number as the file shows it (a CSV's records from 1; the sheet's row in a
workbook). Header names are read as people write them: full-width letters and digits as
ASCII, spaces and line breaks inside the cell dropped, a bracketed note after the name
dropped (``诉求类型（投诉/咨询）`` is ``诉求类型``). A CSV is read strictly: a quote opened
and never closed (it would swallow every row after it) refuses the file naming the line; a
row with more or fewer cells than the header (an unquoted comma in a text) is marked
(``Table.misshapen``) for the caller to hold back, never split silently. A number Excel
stored with more than 15 significant digits (a 工单编号 typed into a number cell) has lost
its last digits: it is given in Excel's own form (``2.02603050000001E+17``) so the caller
can tell it is not the number written.

**Places**: a file is taken in from ``<folder>/`` and moved to
``<folder>/archive/<YYYY-MM-DD>/`` (the local date it was processed), or to
``<folder>/rejected/<YYYY-MM-DD>/`` when it cannot be read at all. ``drop_file`` writes a
file into the folder atomically, so a run never reads half an upload.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import time
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from bdcwatch.errors import PermanentError
from bdcwatch.safe_text import typed
from bdcwatch.standards.normalise import without_blanks

ARCHIVE, REJECTED = "archive", "rejected"
# A pasted document in one cell (the csv module refuses fields over 128 KB by default).
MAX_CELL_CHARS = 16 * 1024 * 1024
# Excel keeps 15 significant digits: an integer above this in a number cell has lost digits.
EXACT_IN_EXCEL = 10**15
HEADER_SEARCH_ROWS = 10  # rows above the header a title or banner may take
# A workbook's bounds: an export or checklist has a dozen columns and at most some
# thousands of rows; cells beyond MAX_COLUMNS are not read, more rows refuse the file
# (workbook_rows): a small file can declare a sheet of Excel's full size.
MAX_COLUMNS, MAX_ROWS, MAX_SHEET_ROW = 64, 200_000, 400_000
_NOTE = re.compile(r"[(（\[［【].*$")
SUFFIXES = (".csv", ".xlsx")
PARTIAL = ".part"  # an upload still being written (drop_file)
MAX_NAME_BYTES = 200  # a dropped file's name, leaving room for the time stamp a clash adds (255 in all)
CLOCK_PROBE = ".bdcwatch-clock"  # touched to read the folder's own clock (settled); hidden, never taken in


class IntakeFileError(PermanentError, ValueError):
    """A dropped file that cannot be read as a table (encoding, format, header)."""


@dataclass
class Table:
    """A dropped file's table: header cells and data rows keyed by header, with row numbers."""

    encoding: str | None  # None for a workbook (XLSX text is always Unicode)
    header: list[str]
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # CSV rows whose number of cells differs from the header's: row number -> cells.
    misshapen: dict[int, int] = field(default_factory=dict)


def detect_encoding(data: bytes) -> str:
    """The text encoding of a CSV export (module docstring). Raises IntakeFileError."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as error:
        raise IntakeFileError(
            f"neither UTF-8 nor GB18030: byte 0x{data[error.start]:02x} at offset {error.start} "
            "(save the export as CSV UTF-8 or as the 12345 system's GB18030 CSV, or as XLSX)"
        ) from None


def _cell(value: Any) -> Any:
    """A cell as written: integral numbers without '.0', text stripped, dates kept."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        # Beyond 15 digits Excel has already rounded the number: say so in its own words.
        return str(int(value)) if abs(value) < EXACT_IN_EXCEL else f"{value:.14E}"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value  # datetime, date, None


def header_name(value: Any) -> str:
    """A header cell as the column it names (module docstring): ``业务 号`` and
    ``诉求类型（投诉/咨询）`` are ``业务号`` and ``诉求类型``."""
    name = without_blanks(unicodedata.normalize("NFKC", str(value or "")))
    return _NOTE.sub("", name) or name


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _table(encoding: str | None, raw_rows: list[tuple[int, list[Any]]], *, shaped: bool = False,
           required: tuple[str, ...] = ()) -> Table:
    rows = [(n, cells) for n, cells in raw_rows if not all(_blank(c) for c in cells)]
    if not rows:
        raise IntakeFileError("the file holds no rows (not even a header)")
    # The header is the first row naming every required column (a title row or a merged
    # banner above it is skipped), else the first row.
    first = next((i for i, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS])
                  if required and set(required) <= {header_name(c) for c in cells}), 0)
    (_, header_cells), data = rows[first], rows[first + 1:]
    header = [header_name(c) for c in header_cells]
    table = Table(encoding, header)
    for number, cells in data:
        if shaped and len(cells) != len(header):
            table.misshapen[number] = len(cells)
        table.rows.append((number, {name: _cell(cells[i]) if i < len(cells) else None
                                    for i, name in enumerate(header) if name}))
    return table


class _Export(csv.Dialect):
    """How every export quotes: ``"``, doubled inside a quoted cell; read strictly."""

    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


def read_table(name: str, data: bytes, required: tuple[str, ...] = ()) -> Table:
    """Read a dropped CSV or XLSX (module docstring); ``required``: column names that tell
    the header row from a title above it. Raises IntakeFileError."""
    if name.lower().endswith(".xlsx"):
        return _table(None, workbook_rows(data), required=required)
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:  # a BOM vouched for UTF-16, the bytes after it are not (an export cut short)
        raise IntakeFileError(f"not readable as {encoding} (the byte-order mark says so) at byte {error.start}: "
                              f"{error.reason}; the file may be cut short") from None
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
    except csv.Error:
        delimiter = ","
    # Row numbers: a quoted cell may span lines, so count the reader's records, not lines.
    reader = csv.reader(io.StringIO(text, newline=""), _Export, delimiter=delimiter)
    limit = csv.field_size_limit(MAX_CELL_CHARS)
    try:
        raw = [(number, list(cells)) for number, cells in enumerate(reader, start=1)]
    except csv.Error as error:
        raise IntakeFileError(
            f"not a readable CSV at line {reader.line_num} ({error}): a quote opened in a cell and never closed, "
            f"or a cell over {MAX_CELL_CHARS // (1024 * 1024)} MB; the rows after it cannot be told apart"
        ) from None
    finally:
        csv.field_size_limit(limit)
    return _table(encoding, raw, shaped=True, required=required)


def workbook_rows(data: bytes, sheet_name: str | None = None) -> list[tuple[int, list[Any]]]:
    """The non-empty rows of an XLSX's sheet ``sheet_name`` (else its first) with their row
    numbers as the sheet shows them, each cut after its last non-empty cell and at
    ``MAX_COLUMNS``.

    The sheet's declared size is not trusted: a workbook saved with ``A1:XFD1048576`` (or
    one stray cell far out) would otherwise be filled in as 17 billion empty cells, a 5 KB
    file exhausting the server. Empty rows are skipped without being built.

    Raises IntakeFileError when the bytes are not a readable workbook, however they are
    damaged (not a zip, a renamed .xls or CSV, a sheet cut short), or when the sheet holds
    more than ``MAX_ROWS`` non-empty rows or goes on past row ``MAX_SHEET_ROW``."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book[sheet_name] if sheet_name and sheet_name in book.sheetnames else book.worksheets[0]
            sheet.reset_dimensions()
            rows: list[tuple[int, list[Any]]] = []
            for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
                if number > MAX_SHEET_ROW:  # a sheet of a million blank cells: seconds of CPU per request
                    raise IntakeFileError(f"the sheet goes on past row {MAX_SHEET_ROW:,}: save only the export's rows")
                last = next((i for i in range(len(cells) - 1, -1, -1) if not _blank(cells[i])), -1)
                if last < 0:
                    continue
                if len(rows) == MAX_ROWS:
                    raise IntakeFileError(f"the sheet holds more than {MAX_ROWS:,} rows: split the export")
                rows.append((number, list(cells[:last + 1])))
            return rows
        finally:
            book.close()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, IndexError, ParseError) as error:
        if isinstance(error, IntakeFileError):
            raise
        raise IntakeFileError(f"not a readable XLSX workbook ({type(error).__name__}: {error})") from None


def pending_files(folder: Path) -> list[Path]:
    """The CSV and XLSX files waiting in ``folder`` (not in its archive or rejected
    subfolders, not hidden, not an upload in progress), oldest name first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$")))


def folder_now_ns(folder: Path) -> int:
    """The folder's own clock (ns since the epoch): the modification time a probe file
    ``CLOCK_PROBE`` gets when touched now. A share's files are stamped by its server, whose
    clock may differ from this worker's; the probe is stamped by the same server. Falls
    back to this process's clock where the folder cannot be written."""
    probe = folder / CLOCK_PROBE
    try:
        # Written, not ``utime``d: a write is stamped by the file system itself, where a
        # utime call takes the caller's clock (and a faked one, under the tests' faketime).
        probe.write_bytes(b"1")
        return probe.stat().st_mtime_ns
    except OSError:
        return time.time_ns()


def settled(paths: list[Path], folder: Path, seconds: int) -> tuple[list[Path], list[Path]]:
    """``paths`` split into those at rest (not modified in the last ``seconds`` by the
    folder's clock, ``folder_now_ns``) and those still being written, keeping their order.
    A file gone meanwhile is in neither. ``seconds`` 0: every file is at rest."""
    if seconds <= 0 or not paths:
        return list(paths), []
    now = folder_now_ns(folder)
    ready: list[Path] = []
    waiting: list[Path] = []
    for path in paths:
        try:
            modified = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        # A time stamp ahead of the folder's clock by more than ``seconds`` is a copied one
        # (a PC whose clock runs ahead), not a write in progress: at rest, or it waits a year.
        (ready if abs(now - modified) >= seconds * 1_000_000_000 else waiting).append(path)
    return ready, waiting


def destination(path: Path, root: Path, place: str, day: date) -> Path:
    """Where ``path`` goes in ``root/place/<day>/``: never over an existing file (a suffix
    ``-1``, ``-2`` ... is added). The folder is created; the file is not moved yet."""
    target_dir = root / place / day.isoformat()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    counter = 1
    while target.exists():
        target = target_dir / f"{path.stem}-{counter}{path.suffix}"
        counter += 1
    return target


def move_to(path: Path, root: Path, place: str, day: date) -> Path:
    """Move ``path`` to its ``destination``; returns the new path."""
    target = destination(path, root, place, day)
    os.replace(path, target)
    return target


def drop_file(folder: Path, name: str, data: bytes, *, now: datetime) -> Path:
    """Put an uploaded file into the intake folder atomically (written under a hidden
    ``.part`` name, then renamed), so a run never reads half a file. The name keeps only
    its last path part; a file of the same name waiting there is not overwritten (a time
    stamp is added). Raises IntakeFileError for a name that is not .csv or .xlsx."""
    base = Path(name).name
    if Path(base).suffix.lower() not in SUFFIXES:
        raise IntakeFileError(f"{base!r}: only .csv and .xlsx exports are taken in")
    # A name a run would never pick up (hidden, Excel's ~$ lock-file form) or one the file
    # system refuses (over 255 bytes: ~85 Chinese characters) is made one it takes.
    stem, suffix = typed(Path(base).stem), Path(base).suffix
    while stem.startswith((".", "~$")):
        stem = stem.removeprefix("~$").lstrip(".")
    stem = stem or "upload"
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    base = stem + suffix
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / base
    if target.exists():
        target = folder / f"{Path(base).stem}-{now:%Y%m%d%H%M%S}{Path(base).suffix}"
    partial = folder / f".{target.name}{PARTIAL}"
    partial.write_bytes(data)
    os.replace(partial, target)
    return target
