"""The policy is validated whole when it is read (CONTRACT: contract/policy.yaml shape):
typed values, and every missing, misspelt or unknown key named with its path and file."""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from bdcwatch.config.policy import Severity, load_policy, parse_policy, read_policy_file
from bdcwatch.errors import PermanentError, PolicyError


@pytest.fixture
def raw() -> dict:
    bundled = Path(load_policy().source.removesuffix(" (bundled default)"))
    return yaml.safe_load(bundled.read_text(encoding="utf-8"))


def test_the_bundled_policy_is_typed():
    policy = load_policy()
    assert policy.units["YQ00"].level == "city" and policy.unit("YQ21").heads[0].email == "head.yq21@example.org"
    assert policy.queue_jump.max_fraction_of_median == Fraction(1, 4)  # exact, no float noise at the threshold
    assert policy.online_target("YQ11") == Fraction(3, 10)
    assert policy.rectification_working_days[Severity.HIGH] == 10
    assert policy.mortgage_qllx_codes == ("37", "23")
    assert policy.staff.pledge_deadline_in(2027).isoformat() == "2027-01-31"
    with pytest.raises(AttributeError):
        policy.raw  # noqa: B018  (no untyped access left)


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["units"][2]["heads"][0].__setitem__("emial", r["units"][2]["heads"][0].pop("email")),
     r"units\.YQ21\.heads\[0\]: unknown key 'emial' \(did you mean 'email'\?\)"),
    (lambda r: r["units"][1].__setitem__("heads", []), r"units\.YQ11\.heads: a unit needs at least one head"),
    (lambda r: r["units"][1].pop("heads"), r"units\.YQ11\.heads: required key is missing"),
    (lambda r: r.__setitem__("stafff", r.pop("staff")), r"unknown key 'stafff' \(did you mean 'staff'\?\)"),
    (lambda r: r["units"][0].__setitem__("level", "province"), r"units\.YQ00\.level"),
    (lambda r: r["units"][0].__setitem__("supervisor", "NOBODY"), r"'NOBODY' is not in supervisors"),
    (lambda r: r["queue_jump"].__setitem__("max_fraction_of_median", 2), r"must be above 0 and at most 1"),
    (lambda r: r["staff"].__setitem__("pledge_deadline", "13-40"), r"not a month and day written MM-DD"),
    (lambda r: r.__setitem__("operations_email", "ops at example"), r"is not an email address"),
    (lambda r: r.__setitem__("timezone", "Mars/Olympus"), r"unknown time zone"),
    (lambda r: r["rectification_working_days"].pop("low"), r"rectification_working_days: missing low"),
    (lambda r: r.__setitem__("calendar", {2027: {"holidays": ["2026-12-31"]}}), r"calendar\.2027: dates outside"),
    # Numbers a policy writer gets wrong (a policy adversary): a percentage as a number, a
    # sample of 1,000 %, a negative limit or a due date on the day found.
    (lambda r: r["online_handling"]["targets"].__setitem__("county", 30), r"targets\.county: .*between 0 and 1"),
    (lambda r: r["quality_check"].__setitem__("min_sample_fraction", 10), r"min_sample_fraction: .*between 0 and 1"),
    (lambda r: r["time_limits_working_days"].__setitem__("200", -3), r"time_limits_working_days\.200"),
    (lambda r: r["rectification_working_days"].__setitem__("high", 0), r"rectification_working_days\.high"),
    (lambda r: r["supervisors"].__setitem__("TAIYUAN_BUREAU", r["supervisors"].pop("CITY_BUREAU")),
     r"supervisors: CITY_BUREAU is missing"),
    (lambda r: r["units"][1].__setitem__("code", "ｙｑ00"), r"units YQ00 and ｙｑ00 differ only in letter case"),
    (lambda r: r["units"][1].__setitem__("code", None), r"None is no code"),
    (lambda r: r["units"][1].__setitem__("name", r["units"][0]["name"] + " "), r"units\.YQ11\.name: .*also unit YQ00"),
    (lambda r: r.__setitem__("operations_email", "ops..desk@example..org"), r"is not an email address"),
    (lambda r: r["cycles"].__setitem__("city_chek", {"per_year": 2}), r"cycles\.city_chek: not a cycle DAG"),
    (lambda r: r["cycles"]["county_self_inspection"].__setitem__("per_year", 6),
     r"cycles\.county_self_inspection\.per_year: 6, but county_self_inspection runs 4 times a year"),
    (lambda r: r.setdefault("bulletin", {}).__setitem__("weights", {"ecert_coverage": float("nan")}),
     r"bulletin\.weights: .*not \.nan or \.inf"),
    (lambda r: r.setdefault("bulletin", {}).__setitem__("weights", {"online_share": float("inf")}),
     r"bulletin\.weights: .*not \.nan or \.inf"),
    (lambda r: r.setdefault("intake", {}).__setitem__("settle_seconds", -1), r"intake\.settle_seconds"),
])
def test_a_wrong_policy_fails_at_load_naming_the_key_and_the_file(raw, change, message):
    broken = copy.deepcopy(raw)
    change(broken)
    with pytest.raises(PolicyError, match=message) as caught:
        parse_policy(broken, "/srv/policy.yaml")
    assert "/srv/policy.yaml" in str(caught.value)
    assert isinstance(caught.value, PermanentError)  # a task fails at once on it, without retry
    assert caught.value.zh is not None and caught.value.zh.startswith("策略文件有误")  # the alert's 原因
    assert "/srv/policy.yaml" in caught.value.zh


def test_a_missing_or_unreadable_file_is_a_policy_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BDCWATCH_POLICY", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy()
    (tmp_path / "bad.yaml").write_text("units: [\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(tmp_path / "bad.yaml")


def test_policy_files_as_people_save_them(tmp_path, raw):
    """A key written twice is refused naming both lines (the later block silently won: mail
    to the wrong heads); a code with a leading zero keeps it (YAML 1.1 read ``01`` as octal
    1, so a lawful return reason 01 was flagged); a file saved as GBK is a PolicyError naming
    the file (it was a UnicodeDecodeError that took every DAG away without an alert)."""
    bundled = Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8")
    twice = tmp_path / "twice.yaml"
    twice.write_text(bundled + "\noperations_email: other@example.org\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"key 'operations_email' is written twice \(lines \d+ and \d+\)") as caught:
        load_policy(twice)
    assert str(twice) in str(caught.value)

    unquoted = bundled.replace('  "01": 申请材料', "  01: 申请材料").replace('  "07": 法律', "  07: 法律")
    assert "  01: 申请材料" in unquoted and "  07: 法律" in unquoted
    (tmp_path / "zeros.yaml").write_text(unquoted, encoding="utf-8")
    assert {"01", "07"} <= set(load_policy(tmp_path / "zeros.yaml").return_reason_codes)

    merged = tmp_path / "merged.yaml"  # a key merged from an anchor may still be overridden
    merged.write_text("head: &h {name: 张三, email: a@example.org}\nother:\n  <<: *h\n  email: b@example.org\n",
                      encoding="utf-8")
    assert read_policy_file(merged)[0]["other"] == {"name": "张三", "email": "b@example.org"}

    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(bundled.encode("gb18030"))
    with pytest.raises(PolicyError, match=r"is not UTF-8 text .*save it as UTF-8") as caught:
        load_policy(gbk)
    assert str(gbk) in str(caught.value)
