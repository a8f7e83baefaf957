from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bdcwatch.standards import identifiers, masking, normalise

REAL_ZZBS = "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9"


def test_check_character_matches_the_contract_real_vector():
    assert identifiers.mod37_36_check_character("11100000MB03271699022" + "340100" + "000000016" + "001") == "9"
    assert identifiers.ecert_identifier_problem(REAL_ZZBS, "11100000MB03271699022") is None


@pytest.mark.parametrize(
    ("zzbs", "zzlxdm", "fragment"),
    [
        (REAL_ZZBS[:-1] + "8", "11100000MB03271699022", "check character 8 should be 9"),
        ("1.2.156.3005.2.11100000MB03271699022.340100.00000016.001.9", "11100000MB03271699022", "does not follow"),
        (REAL_ZZBS, "11100000MB03271699001", "differs from ZZLXDM"),
        ("", "11100000MB03271699022", "empty"),
        ("1.2.156.3005.2.11100000MB03271699022.340100.000000016.001", "11100000MB03271699022", "does not follow"),
        (REAL_ZZBS + "\n", "11100000MB03271699022", "does not follow"),  # "$" let a final newline through
    ],
)
def test_bad_identifiers_are_explained(zzbs, zzlxdm, fragment):
    problem = identifiers.ecert_identifier_problem(zzbs, zzlxdm)
    assert problem is not None and fragment in problem


def test_generated_identifiers_validate_including_letter_check_characters():
    checks = set()
    for serial in range(1, 400):
        zzbs = identifiers.make_ecert_identifier("11100000MB03271699001", "140302", serial)
        assert identifiers.ecert_identifier_problem(zzbs, "11100000MB03271699001") is None
        checks.add(zzbs[-1])
    assert any(c.isalpha() for c in checks), "letters must occur as check characters too"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("晋（2026）阳泉市不动产权第0001234号", "晋(2026)阳泉市不动产权第0001234号"),
        ("晋(２０２６)阳泉市不动产权第０００1234号", "晋(2026)阳泉市不动产权第0001234号"),
        (" 晋(2026) 阳泉市不动产权第0001234号 ", "晋(2026)阳泉市不动产权第0001234号"),
        ("晋(2026)阳泉市不动产权第0001234号(销)", "晋(2026)阳泉市不动产权第0001234号"),
        ("晋(2026)阳泉市不动产权第0001234号（销）", "晋(2026)阳泉市不动产权第0001234号"),
        ("晋(2026)阳泉市不动产证明第0001234号", "晋(2026)阳泉市不动产证明第0001234号"),
    ],
)
def test_certificate_numbers_normalize(raw, expected):
    assert normalise.normalize_certificate_number(raw) == expected


def test_different_numbers_stay_different():
    a = normalise.normalize_certificate_number("晋(2026)阳泉市不动产权第0001234号")
    b = normalise.normalize_certificate_number("晋(2026)阳泉市不动产权第0001235号")
    c = normalise.normalize_certificate_number("晋(2026)阳泉市不动产证明第0001234号")
    assert len({a, b, c}) == 3


def test_holder_sets_compare_regardless_of_order_and_separator():
    assert normalise.normalize_holders("张三、李四") == normalise.normalize_holders("李四，张三")
    assert normalise.normalize_holders("张三; 李四") == normalise.normalize_holders(" 李四 ；张三")
    assert normalise.normalize_holders("张三、李四") != normalise.normalize_holders("张三")
    assert normalise.normalize_holders(None) == ""


def test_id_number_check_per_gb11643():
    assert identifiers.id_number_check_character("11010519491231002") == "X"
    assert identifiers.is_valid_id_number("11010519491231002X")
    assert identifiers.is_valid_id_number("11010519491231002x")
    assert not identifiers.is_valid_id_number("110105194912310021")
    assert not identifiers.is_valid_id_number("1101051949123100")
    assert not identifiers.is_valid_id_number(None)


def test_masking_keeps_first_three_and_last_two():
    assert masking.mask("14030219800101123X") == "140*************3X"
    text = "持证人 14030219800101123X，单元号 140302001001GB00001F00010001"
    masked = masking.mask_id_numbers(text)
    assert "14030219800101123X" not in masked and "140*************3X" in masked
    assert "140302001001GB00001F00010001" in masked  # a unit number is not personal data


def test_unit_number_shape():
    assert identifiers.is_valid_unit_number("140302001001GB00001F00010001")
    assert identifiers.is_valid_unit_number("140311002003JC00012W00000000")
    assert not identifiers.is_valid_unit_number("140302001001GB00001X00010001")
    assert not identifiers.is_valid_unit_number("140302001001GB00001F0001000")


def _mod37_36_as_written(payload: str) -> str:
    """ISO/IEC 7064 MOD 37,36 step by step as the standard writes it (P_1 = 36;
    S_j = (P_j mod 37) + a_j; P_j+1 = ((S_j mod 36) or 36) * 2; check = the character
    whose value c makes (P_n+1 mod 37) + c = 1 mod 36)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    product = 36
    for char in payload:
        total = (product % 37 + alphabet.index(char)) % 36 or 36
        product = total * 2
    return alphabet[(37 - product % 37) % 36]


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", max_size=60))
def test_check_character_equals_the_standard_written_out_on_any_payload(payload):
    assert identifiers.mod37_36_check_character(payload) == _mod37_36_as_written(payload)


# Text made of what certificate numbers and holder lists are written with, and of every
# character a §5 step changes (so the shortcut for untouched values is tried on values
# one character away from needing the full steps), plus any other character.
_SECTION5_CHARACTERS = st.sampled_from(
    list("晋(2026)阳泉市不动产权证明第0123456789号注销张三李四阿卜来提如则托合提、,，;；/／ ")
    + list("（）０９〔〕【】[]［］\u3000\u00a0\t\n\u200b\u200c\u200d\u2060\ufeff\x1c")
    + list(normalise.MIDDLE_DOTS)
)
_SECTION5_TEXT = st.builds(
    str.__add__,
    st.one_of(st.text(alphabet=_SECTION5_CHARACTERS, max_size=40), st.text(max_size=40)),
    st.sampled_from(["", "(销)", "(注销)", "（注销）", "(销)\n"]),  # §5's cancelled suffix, and look-alikes
)


@given(_SECTION5_TEXT)
def test_certificate_shortcut_equals_every_step(raw):
    assert normalise.normalize_certificate_number(raw) == normalise.full_certificate_normalisation(raw)


@given(_SECTION5_TEXT)
def test_holders_shortcut_equals_every_step(raw):
    assert normalise.normalize_holders(raw) == normalise.full_holders_normalisation(raw)


def test_the_shortcuts_leave_clean_values_as_they_are_and_fold_the_rest():
    clean = "晋(2026)阳泉市不动产权第0001234号"
    assert normalise.normalize_certificate_number(clean) is clean  # the shortcut: no copy made
    assert normalise.normalize_certificate_number(clean + "(注销)") == clean
    assert normalise.normalize_holders("阿卜来提·如则托合提") == "阿卜来提·如则托合提"
    assert normalise.normalize_holders(" 张三\u200b") == "张三"


def test_only_the_brackets_of_section_5_read_as_parentheses_and_one_cancel_suffix_goes():
    """§5 lists 〔〕 【】 ［］, not ASCII [], and drops "a trailing (销) or (注销)": one."""
    plain = "晋(2026)阳泉市不动产权第0000002号"
    assert normalise.normalize_certificate_number("晋［2026］阳泉市不动产权第0000002号") == plain
    assert normalise.normalize_certificate_number("晋[2026]阳泉市不动产权第0000002号") != plain
    assert normalise.normalize_certificate_number(plain + "(注销)(注销)") == plain + "(注销)"
