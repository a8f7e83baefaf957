"""The policy is validated whole when it is read (CONTRACT: contract/policy.yaml shape):
typed values, and every missing, misspelt or unknown key named with its path and file."""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from bdcwatch.config.policy import Severity, load_policy, parse_policy
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
])
def test_a_wrong_policy_fails_at_load_naming_the_key_and_the_file(raw, change, message):
    broken = copy.deepcopy(raw)
    change(broken)
    with pytest.raises(PolicyError, match=message) as caught:
        parse_policy(broken, "/srv/policy.yaml")
    assert "/srv/policy.yaml" in str(caught.value)
    assert isinstance(caught.value, PermanentError)  # a task fails at once on it, without retry


def test_a_missing_or_unreadable_file_is_a_policy_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BDCWATCH_POLICY", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy()
    (tmp_path / "bad.yaml").write_text("units: [\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(tmp_path / "bad.yaml")
