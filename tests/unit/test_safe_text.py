"""One sanitiser for every text from data on its way to HTML, XLSX or a log (issue 10
item 5, CONTRACT §5 "Free text"): any text renders without raising, and what arrives
holds no character its format cannot carry."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import date, datetime

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bdcwatch.config.policy import load_policy
from bdcwatch.ledger.findings import FindingRow
from bdcwatch.reports.common import DigestContext, findings_workbook
from bdcwatch.reports.unit_digest import render_unit_digest
from bdcwatch.reports.workbooks import workbook
from bdcwatch.safe_text import XLSX_MAX_CELL, clean

# Any character a source column may hold: controls, lone surrogates, noncharacters, bidi.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=60)
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def row(text: str, i: int = 1) -> FindingRow:
    detail = json.dumps({"ywh": text, "thsj": "2026-10-11 10:05:00", "thyydm": text, "thyy": text})
    return FindingRow(i, "RETURN_UNJUSTIFIED", "medium", "YQ21", "BDC_BYSL.ID", f"TH{i}{text}", None, detail, "open",
                      datetime(2026, 11, 2, 3, 5), date(2026, 11, 16))


def context() -> DigestContext:
    return DigestContext(dag_id="monthly_quality_check", run_id="r", period_label="2026-10", period_text="10月",
                         as_of=datetime(2026, 11, 1), plan_items="32", title="月度质量评查", supervisor_name="市局")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT)
def test_any_text_from_data_renders_into_html_and_xlsx(text):
    unit = load_policy().units["YQ21"]
    digest = render_unit_digest([row(text)], unit_code="YQ21", unit_name=unit.name + text, heads=unit.heads,
                                context=context())
    assert not XML_ILLEGAL.search(digest.html) and not XML_ILLEGAL.search(digest.subject)
    digest.html.encode("utf-8")  # no lone surrogate survives: the sender can encode it
    (attachment,) = digest.attachments
    sheet = openpyxl.load_workbook(io.BytesIO(attachment.content)).active
    cells = [c for line in sheet.iter_rows() for c in line]
    assert all(c.data_type != "f" for c in cells)
    assert str(sheet.cell(row=2, column=7).value or "") == clean(f"TH1{text}", "xlsx")


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(ANY_TEXT, st.integers(), st.floats(allow_nan=False), st.none(), st.dates()),
                       min_size=1, max_size=5))
def test_any_cell_value_is_written_and_read_back(values):
    content = workbook({"表": (tuple(f"列{i}" for i in range(len(values))), [values])})
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    read = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2, max_col=len(values)))]
    for written, got in zip(values, read, strict=True):
        if isinstance(written, str):
            assert (got or "") == clean(written, "xlsx")


def test_word_line_break_in_a_return_reason_no_longer_stops_the_workbook():
    """The issue's case: one return reason with \\x0b made openpyxl raise in compose."""
    content = findings_workbook([row("申请材料不齐全\x0b请补正")], "YQ21 2026-10")
    values = [c.value for line in openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows() for c in line]
    assert any(isinstance(v, str) and "申请材料不齐全\n请补正" in v for v in values)


def test_text_that_looks_like_a_formula_stays_text():
    content = workbook({"表": (("说明",), [("=HYPERLINK(\"http://evil.example\",\"点此\")",), ("=1+1",)])})
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert [(c.value, c.data_type) for c in sheet["A"][1:]] == [
        ("=HYPERLINK(\"http://evil.example\",\"点此\")", "s"), ("=1+1", "s")]


def test_clean_profiles():
    assert clean("a\x0bb\x0cc\u2028d") == "a\nb\nc\nd"  # line-breaking controls become line breaks
    assert clean("a\x00b\x1bc\x7fd\x9be") == "abcde"
    assert clean("x\ud800y\U0010ffffz") == "x\ufffdy\ufffdz"
    assert clean("价格\u202e123") == "价格123"  # a bidi override cannot reorder what a head reads
    assert clean("证件 14030219800101123X") == "证件 140*************3X"
    assert len(clean("长" * (XLSX_MAX_CELL + 10), "xlsx")) == XLSX_MAX_CELL
    assert clean("one\ntwo", "log") == "one\n    two"


def test_engine_log_lines_are_masked_and_cannot_be_forged(caplog):
    with caplog.at_level(logging.INFO, logger="bdcwatch"):
        logging.getLogger("bdcwatch.sources.extract").warning(
            "quarantined %s", "RY_JBXX ZJH 14030219800101123X\nINFO bdcwatch: all good\x1b[2J")
    (record,) = [r for r in caplog.records if r.name == "bdcwatch.sources.extract"]
    message = record.getMessage()
    assert "14030219800101123X" not in message and "140*************3X" in message
    assert "\nINFO" not in message and "\x1b" not in message


def test_a_streamed_workbook_keeps_its_layout_and_every_value_after_a_formula_like_text():
    """Workbooks stream row by row (openpyxl write-only): the header stays frozen, the widths
    apply, a text that openpyxl would take for a formula or an error value (#N/A) stays
    text, and the cells after it in the same row keep their own values."""
    content = workbook({"表": (("说明", "单位", "件数"), [("=1+1", "YQ21", 5), ("正常", "#N/A", 2.5)])},
                       widths={"表": (30, 8, 6)})
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet.freeze_panes == "A2"
    assert [sheet.column_dimensions[letter].width for letter in "ABC"] == [30, 8, 6]
    assert [[(c.value, c.data_type) for c in line] for line in sheet.iter_rows(min_row=2)] == [
        [("=1+1", "s"), ("YQ21", "s"), (5, "n")], [("正常", "s"), ("#N/A", "s"), (2.5, "n")]]
