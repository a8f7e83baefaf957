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
        # A city's policy that is itself the province file was read again and again (RecursionError).
        ([HOME, {**TAIYUAN, "policy": "province.yaml"}], "is a province file (it lists cities), not a city's policy"),
    ],
    ids=["unknown-key", "missing-key", "bad-code", "missing-file", "duplicate-city", "shared-unit", "no-city",
         "province-as-city"],
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
    # Written with a leading zero, still the digits written (YAML 1.1 read 01401 as octal 769).
    file.write_text(file.read_text(encoding="utf-8").replace("code: 1401", "code: 01401"), encoding="utf-8")
    province = load_province(file)
    assert province is not None and province.cities[1].dag_id("look_back") == "look_back__01401"


def test_failure_alert_goes_to_the_operations_of_the_dags_city(monkeypatch):
    from types import SimpleNamespace

    from bdcwatch.orchestration.notifier import operations_recipient

    monkeypatch.setenv("BDCWATCH_POLICY", str(EXAMPLE))
    relay = SimpleNamespace(operations_email=None, from_email="relay@example.org")
    assert operations_recipient(relay, "ecert_completeness__1401") == ("regwatch-ops.c1401@example.org", None)
    assert operations_recipient(relay, "ecert_completeness") == ("regwatch-ops@example.org", None)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.replace("complaints_dir: /srv/bdcwatch/intake/1401/complaints", "complaints_dir: null"),
     "intake.complaints_dir"),
    (lambda text: text.replace("code: '140100'", "code: yq00"), "unit yq00 is also in city 1403's policy, written YQ00"),
], ids=["shared-complaints-folder", "unit-differing-in-case"])
def test_cities_never_share_a_unit_or_a_complaints_folder(tmp_path, edit, message):
    """Two cities taking complaints from one folder: whichever intake ran first took the
    other's exports and held their units as unknown (the example's cities all used the
    default folder). A DJJG differing only in case is one unit in two cities."""
    file = _province(tmp_path, [HOME, TAIYUAN])
    policy = tmp_path / "policy_1401.yaml"
    text = policy.read_text(encoding="utf-8")
    assert edit(text) != text
    policy.write_text(edit(text), encoding="utf-8")
    with pytest.raises(PolicyError, match="cities\\[1\\].policy") as error:
        load_province(file)
    assert message in str(error.value)


def test_a_shared_provincial_ecert_system_is_judged_per_city(tmp_path, database_url):
    """The provincial e-certificate system is one database: a city's staging holds the other
    cities' e-certificates too. Those are theirs to judge; without the province's other
    units left out, every one of them was an ECERT_ORPHAN (or BAD_ID) of this city, routed
    to its operations as an unknown unit (94 false findings in a two-city adversary run).
    An issuer in no city is still this city's to report."""
    from datetime import date, datetime

    from bdcwatch import rules
    from bdcwatch.dates.periods import Period
    from bdcwatch.dates.workdays import WorkCalendar
    from bdcwatch.rules.engine import detect_subjects
    from bdcwatch.store.migrate import make_engine
    from bdcwatch.store.models import stg_bdc_dzzz_zzxx

    province = load_province(write_province(tmp_path / "p", [("1403", "阳泉市"), ("1401", "太原市")]))
    assert province is not None
    yangquan, taiyuan = province.cities
    theirs = sorted(taiyuan.policy.units)[0]
    assert yangquan.policy.other_cities_units == frozenset(taiyuan.policy.units)
    engine = make_engine(database_url.migrated())
    with engine.begin() as conn:
        conn.execute(stg_bdc_dzzz_zzxx.insert(), [
            {"zzid": f"E-{issuer}", "zzbs": "bad", "zzbs_problem": "格式错误", "zzlxdm": "11100000MB03271699001",
             "bdcqzh": f"N-{issuer}", "bdcqzh_norm": f"N-{issuer}", "holders_norm": "张三", "zzbfjgdm": issuer,
             "zzbfrq": datetime(2026, 3, 5, 9), "zzzt": 1, "gxsj": datetime(2026, 3, 5, 9), "_load_id": "t"}
            for issuer in ("YQ21", theirs, "ZZ99")])
    march = Period(date(2026, 3, 1), date(2026, 4, 1))
    for code in ("ECERT_ORPHAN", "ECERT_BAD_ID"):
        found = detect_subjects(engine, rules.get(code), period=march, policy=yangquan.policy, calendar=WorkCalendar())
        assert found == {"E-YQ21", "E-ZZ99"}, code
        alone = detect_subjects(engine, rules.get(code), period=march, policy=load_policy(), calendar=WorkCalendar())
        assert alone == {"E-YQ21", f"E-{theirs}", "E-ZZ99"}, code  # one city: every issuer is judged
