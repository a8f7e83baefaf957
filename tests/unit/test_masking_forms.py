"""ID numbers as people write them (CONTRACT §6, issue 10 item 7) are masked in every
output, and long codes that merely contain digits are not; the look-alike lists of §5
(item 6) fold exactly what they list. Hypothesis draws the forms."""

from __future__ import annotations

import io
import logging
from datetime import date, timedelta

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdcwatch.reports.workbooks import workbook
from bdcwatch.safe_text import clean, clean_cell
from bdcwatch.standards.identifiers import id_number_check_character
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.standards.normalise import MIDDLE_DOTS, normalize_certificate_number, normalize_holders

FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)} | {"X": "Ｘ"}
# Every separator people type between the groups, one or several in a row (§6).
SEPARATORS = [" ", "-", "\u00a0", "\u3000", "\u2014", "\u2013", "\u2212", "\uff0d", "\ufe63", "  ", " - "]


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """A GB 11643 number in one of the ways people write it: 18 or legacy 15 characters,
    right or wrong check character, ASCII or full-width per character, x/X/Ｘ, with
    separators between groups (6-8-4, 6-6-3, fours, or anywhere)."""
    area = draw(st.from_regex(r"[1-6][0-9]{5}", fullmatch=True))
    born = date(1900, 1, 1) + timedelta(days=draw(st.integers(0, 45_000)))
    sequence = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    if draw(st.booleans()):
        compact = f"{area}{born:%y%m%d}{sequence}"
    else:
        body = f"{area}{born:%Y%m%d}{sequence}"
        check = id_number_check_character(body) if draw(st.booleans()) else draw(st.sampled_from("0123456789X"))
        compact = body + check
    chars = [FULL_WIDTH.get(c, c) if draw(st.booleans()) else c for c in compact]
    if chars[-1] in "XＸ":
        chars[-1] = draw(st.sampled_from(["X", "x", "Ｘ", "ｘ"]))
    style = draw(st.sampled_from(["plain", "groups", "fours", "anywhere"]))
    if style == "plain":
        return "".join(chars)
    sep = draw(st.sampled_from(SEPARATORS))
    cuts = {"groups": {6, 14} if len(chars) == 18 else {6, 12}, "fours": set(range(4, len(chars), 4)),
            "anywhere": set(draw(st.lists(st.integers(1, len(chars) - 1), max_size=4)))}[style]
    return "".join((sep if i in cuts else "") + c for i, c in enumerate(chars))


AROUND = st.text(alphabet=st.sampled_from("申请人的身份证号为：，。 ()、\n\x0babc"), max_size=8)


@settings(max_examples=300, deadline=None)
@given(number=id_numbers(), before=AROUND, after=AROUND)
def test_every_written_form_of_an_id_number_is_masked(number: str, before: str, after: str) -> None:
    # A letter touching the number makes it part of a code; the texts around it are prose.
    masked = mask_id_numbers(f"{before} {number} {after}")
    assert number not in masked
    assert number[:3] + "*" * (len(number) - 5) + number[-2:] in masked
    for target in ("html", "xlsx", "log"):
        assert number not in clean(f"{before}。{number}，{after}", target)  # type: ignore[arg-type]


@pytest.mark.parametrize("written", [
    "身份证号140302198506120017", "ID140302198506120017", "证件号码：ID １４０３０２－１９８５０６１２－００１７",
    "签到表_110101199003071234.txt", "140302——19850612——0017", "身份证110101000000001234",
    "110101199003071234abc", "身份证号110101199003071234ID已核",  # a word straight after (an adversary round)
])
def test_numbers_written_after_a_word_or_with_dashes_are_masked(written: str) -> None:
    """The forms an operator met in the demo (full-width hyphen, em dash, doubled spaces, a
    number straight after "ID" or in a file name) and a CJK word before an implausible date."""
    masked = mask_id_numbers(written)
    digits = [c for c in masked if c.isdigit()]
    assert "*" in masked and len(digits) == 5, masked  # 3 kept at the head, 2 at the tail


@pytest.mark.parametrize("written", [
    "140302 19851312 0017", "140302-1985-1312-0017", "1403 0219 8513 1200 17", "140302 851312 001",
    "１４０３０２　１９８５０２３２　００１Ｘ",
])
def test_a_separated_number_with_a_mistyped_birth_date_is_masked(written: str) -> None:
    """Month 13, day 32: grouped as ID numbers are written, it is one all the same (§6)."""
    masked = mask_id_numbers(f"申请人身份证号{written}，请核实")
    assert written not in masked and written[:3] + "*" * (len(written) - 5) + written[-2:] in masked


@pytest.mark.parametrize("written", [
    "140302\v19800101\v123X", "140302\r\n19800101\r\n123X", "140302\n19800101\n123X",
    "140302\u202819800101\u2028123X",  # line breaks: a page and a mail client show one space
    "140302    19800101    123X", "140302\t\t\t\t19800101\t\t\t\t123X", "140302\u00a0\u00a0  19800101  123X",
    "140302\u00ad19800101\u00ad123X",  # a soft hyphen: invisible
    "14030219800101123×", "14030219800101123Х", "14030219800101123ⅹ",  # X as an IME, Cyrillic, Roman numeral
])
def test_numbers_broken_across_lines_spaced_out_or_with_a_look_alike_x_are_masked(written: str) -> None:
    """What a digest reader saw in full (a fresh adversary's forms): the separators were
    line breaks, more than three spaces or invisible characters, or the X a look-alike."""
    masked = mask_id_numbers(f"退件原因：申请人身份证{written}与户籍不符")
    assert "19800101" not in masked and "0101123" not in masked, masked
    for target in ("html", "xlsx", "log"):
        assert "19800101" not in clean(f"申请人身份证{written}与户籍不符", target)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [
    "ZS110101000000001234",  # letters then 18 digits without a birth date: a code, not a person
    "140302001001GB00001F00010001",  # BDCDYH
    "2026031000000123",  # YWH (16 digits)
    "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",  # ZZBS
    "晋(2026)阳泉市不动产权第0001234号",
    "2026-03-10 2026-03-11 20",  # dates in a row are no birth date
    "YQ00-2026-000000000000001",
    "110101000000001234ZS",  # 18 digits without a birth date, then letters: a code
    "019fe3d5-6275-7cc0-9520-77771012825d",  # a UUID (ZZID): 15 grouped digits then a letter
    "YWH202603120105001A",  # 15 digits before a letter: a case number's
])
def test_long_codes_that_merely_contain_digits_are_left_as_written(code: str) -> None:
    assert mask_id_numbers(f"见 {code} 。") == f"见 {code} 。"


def test_the_examples_of_the_issue_leave_masked_from_html_xlsx_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    from bdcwatch.safe_text import install_log_guard

    install_log_guard()
    legacy, wide, grouped = "110105491231002", "１１０１０５１９４９１２３１００２Ｘ", "110105 19491231 002X"
    text = f"退回原因：申请人{legacy}、{wide}、{grouped}"
    assert clean(text) == "退回原因：申请人110**********02、１１０*************２Ｘ、110***************2X"
    book = openpyxl.load_workbook(io.BytesIO(workbook({"s": _frame(text, int(legacy))})))
    cells = [str(c.value) for row in book.active.iter_rows() for c in row]
    assert not any(legacy in c or wide in c or grouped in c for c in cells)
    assert clean_cell(int(legacy)) == "110**********02" and clean_cell(2026) == 2026
    with caplog.at_level(logging.INFO, logger="bdcwatch.test"):
        logging.getLogger("bdcwatch.test").info("handler %s unknown", legacy)
    assert legacy not in caplog.text


def _frame(text: str, number: int):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame({"原因": [text], "经办人": [number]})


@pytest.mark.parametrize("dot", list(MIDDLE_DOTS))
def test_every_listed_middle_dot_reads_the_same(dot: str) -> None:
    assert normalize_holders(f"阿卜来提{dot}如则托合提") == normalize_holders("阿卜来提·如则托合提")


@pytest.mark.parametrize("separator", ["、", ",", "，", ";", "；", "/", "／"])
def test_every_listed_separator_splits_holders(separator: str) -> None:
    assert normalize_holders(f" 李四 {separator}张三\u200b") == "张三、李四"


@pytest.mark.parametrize("written", [
    "晋（2026）阳泉市不动产权第０００1234号", "晋〔2026〕阳泉市不动产权第0001234号", "晋【2026】阳泉市不动产权第0001234号",
    "晋［2026］阳泉市不动产权第0001234号", "晋(2026) 阳泉市\u3000不动产权第\u00a00001234号",
    "晋(2026)阳泉市\u200b不动产权\u200c第\u200d0001234\u2060号\ufeff", "晋(2026)阳泉市不动产权第0001234号(销)",
    "晋(2026)阳泉市不动产权第0001234号（注销）",
])
def test_certificate_number_variants_of_section_5_normalise_alike(written: str) -> None:
    assert normalize_certificate_number(written) == "晋(2026)阳泉市不动产权第0001234号"


def test_names_differing_in_more_than_a_look_alike_still_differ() -> None:
    assert normalize_holders("阿卜来提·如则托合提") != normalize_holders("阿卜来提如则托合提")
    assert normalize_certificate_number("晋(2026)阳泉市不动产权第0001234号") != normalize_certificate_number(
        "晋(2026)阳泉市不动产证明第0001234号")


def test_an_id_number_glued_to_a_certificate_serial_is_masked():
    """§5 removes the space in 第0001234 140302199001011234号: the digits ran together and
    no digit boundary marked the ID number (it reached digests whole)."""
    glued = "晋(2026)阳泉市不动产权第0001234140302199001011234号"
    assert "140302199001011234" not in mask_id_numbers(glued) and "199001" not in mask_id_numbers(glued)
    assert mask_id_numbers("晋(2026)阳泉市不动产权第0001234号") == "晋(2026)阳泉市不动产权第0001234号"
