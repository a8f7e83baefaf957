"""The province file (issue 13 item 5): several cities in one deployment, validated whole
like the city policy, each error naming the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bdcwatch.config.policy import load_policy
from bdcwatch.config.province import load_province
from bdcwatch.demo.province import SHANXI_CITIES, write_province
from bdcwatch.errors import PolicyError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "province.example.yaml"


def test_example_province_loads_with_home_city_first():
    province = load_province(EXAMPLE)
    assert province is not None
    assert [c.code for c in province.cities] == ["1403", "1401", "1404"]
    home, taiyuan, _ = province.cities
    assert home.home and home.queue is None and home.pool is None
    assert home.dag_id("ecert_completeness") == "ecert_completeness" and home.conn_id("supervision_db") == "supervision_db"
    assert (taiyuan.queue, taiyuan.pool) == ("city_1401", "city_1401")
    assert taiyuan.dag_id("ecert_completeness") == "ecert_completeness__1401"
    assert taiyuan.conn_id("registration_db") == "registration_db__1401"
    assert set(taiyuan.policy.units).isdisjoint(home.policy.units)
    assert province.city_of_dag("ecert_completeness__1401") is taiyuan
    assert province.city_of_dag("ecert_completeness") is home
    assert province.city_of_dag("ecert_completeness__9999") is home  # not a city of the file: the home city
    # Whatever reads "the policy" without a city (CLI, UI) gets the home city's.
    assert sorted(load_policy(EXAMPLE).units) == sorted(home.policy.units) == ["YQ00", "YQ11", "YQ21", "YQ22", "YQGX"]


def test_a_city_policy_file_is_not_a_province():
    assert load_province(ROOT / "include" / "bdcwatch" / "config" / "policy.yaml") is None


def test_eleven_generated_cities_share_no_unit_and_no_mailbox(tmp_path):
    province = load_province(write_province(tmp_path, SHANXI_CITIES))
    assert province is not None and len(province.cities) == 11
    units = [u for c in province.cities for u in c.policy.units]
    assert len(units) == len(set(units)) == 55
    heads = [h.email for c in province.cities for u in c.policy.units.values() for h in u.heads]
    assert len(heads) == len(set(heads))


def _province(tmp_path: Path, cities: list[dict]) -> Path:
    for name in ("policy_1403.yaml", "policy_1401.yaml"):
        shutil.copy(ROOT / "deploy" / "province" / name, tmp_path / name)
    file = tmp_path / "province.yaml"
    file.write_text(yaml.safe_dump({"cities": cities}, allow_unicode=True), encoding="utf-8")
    return file


HOME = {"code": "1403", "name": "阳泉市", "policy": "policy_1403.yaml"}
TAIYUAN = {"code": "1401", "name": "太原市", "policy": "policy_1401.yaml"}


@pytest.mark.parametrize(
    ("cities", "message"),
    [
        ([HOME, {**TAIYUAN, "polcy": "x"}], "cities[1]: unknown key 'polcy'"),
        ([HOME, {"code": "1401", "policy": "policy_1401.yaml"}], "cities[1].name: required key is missing"),
        ([HOME, {**TAIYUAN, "code": "TY"}], "cities[1].code"),
        ([HOME, {**TAIYUAN, "policy": "nowhere.yaml"}], "cities[1].policy: file"),
        ([HOME, {**TAIYUAN, "code": "1403"}], "cities[1].code: city 1403 is listed twice"),
        ([HOME, {**TAIYUAN, "policy": "policy_1403.yaml"}], "cities[1].policy: unit YQ00 is also in city 1403"),
        ([], "cities: List should have at least 1 item"),
    ],
    ids=["unknown-key", "missing-key", "bad-code", "missing-file", "duplicate-city", "shared-unit", "no-city"],
)
def test_province_errors_name_file_and_key(tmp_path, cities, message):
    file = _province(tmp_path, cities)
    with pytest.raises(PolicyError) as error:
        load_province(file)
    assert str(file) in str(error.value) and message in str(error.value)
    with pytest.raises(PolicyError):  # the home policy is never read from a broken province file
        load_policy(file)


def test_a_city_policy_error_names_the_city_and_the_policy_key(tmp_path):
    file = _province(tmp_path, [HOME, TAIYUAN])
    policy = tmp_path / "policy_1401.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("operations_email:", "operations_emial:"),
                      encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_province(file)
    text = str(error.value)
    assert "cities[1].policy" in text and str(policy) in text and "operations_emial" in text


def test_unquoted_code_reads_as_its_digits(tmp_path):
    file = _province(tmp_path, [HOME, {**TAIYUAN, "code": 1401}])
    province = load_province(file)
    assert province is not None and province.cities[1].dag_id("look_back") == "look_back__1401"


def test_failure_alert_goes_to_the_operations_of_the_dags_city(monkeypatch):
    from types import SimpleNamespace

    from bdcwatch.orchestration.notifier import operations_recipient

    monkeypatch.setenv("BDCWATCH_POLICY", str(EXAMPLE))
    relay = SimpleNamespace(operations_email=None, from_email="relay@example.org")
    assert operations_recipient(relay, "ecert_completeness__1401") == ("regwatch-ops.c1401@example.org", None)
    assert operations_recipient(relay, "ecert_completeness") == ("regwatch-ops@example.org", None)
