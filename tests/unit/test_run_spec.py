"""Run parameters (CONTRACT §2): the contract Params, their defaults, refused conf keys, and
the local date a run stands for with or without a logical date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import RunSpec
from bdcwatch.dates.periods import local_date, rolling_window
from bdcwatch.errors import PermanentError, RunSpecError

PARAMS = ("period_start", "period_end", "units", "full_scan")
DEFAULT = rolling_window(date(2026, 11, 25), 7)


def resolve(params, conf=None):
    return RunSpec.resolve(params, default_period=DEFAULT, policy=load_policy(), conf=conf, known_params=PARAMS)


def test_explicit_period_and_units_round_trip_through_xcom():
    spec = resolve({"period_start": "2026-01-01", "period_end": "2026-04-01", "units": ["YQ21"]})
    assert (spec.period_label, spec.units, spec.period.as_of) == ("2026-Q1", ("YQ21",), datetime(2026, 4, 1))
    xcom = spec.to_xcom()
    assert xcom == {"period_start": "2026-01-01", "period_end": "2026-04-01", "units": ["YQ21"], "full_scan": False,
                    "dry_run": False}
    assert RunSpec.from_xcom(xcom) == spec


def test_default_period_when_none_is_given():
    spec = resolve({"period_start": None, "period_end": None, "units": []})
    assert (spec.period_start, spec.period_end, spec.units) == (date(2026, 11, 18), date(2026, 11, 25), ())


@pytest.mark.parametrize(("params", "message"), [
    ({"period_start": "2026-01-01"}, "both period_start and period_end"),
    ({"period_start": "2026-13-01", "period_end": "2026-12-01"}, "bad period"),
    ({"period_start": "2026-04-01", "period_end": "2026-01-01"}, "must be after"),
    ({"units": ["XX99"]}, "not in the policy"),
    ({"period_start": "9999-01-01", "period_end": "9999-12-31"}, "out of range"),  # was a retried ValueError
])
def test_bad_params_are_permanent_errors(params, message):
    with pytest.raises(RunSpecError, match=message) as caught:
        resolve(params)
    assert isinstance(caught.value, PermanentError)  # the task fails at once, without retry
    assert caught.value.zh  # the operations desk reads it in Chinese


def test_a_unit_listed_twice_is_one_and_an_id_number_typed_as_a_unit_is_masked():
    """YQ21 and yq21 are one unit (it was counted twice in the city's 六不准 report)."""
    assert resolve({"units": ["YQ21", "yq21", "YQ22"]}).units == ("YQ21", "YQ22")
    with pytest.raises(RunSpecError) as caught:
        resolve({"units": ["140321198803150012"]})
    assert "140321198803150012" not in str(caught.value) and "140321198803150012" not in str(caught.value.zh)


def test_a_misspelt_conf_key_is_refused_with_its_close_match():
    conf = {"period_start": "2026-03-01", "period_end": "2026-04-01", "unit": ["YQ00"]}
    with pytest.raises(RunSpecError, match=r"unknown conf key\(s\) 'unit' \(did you mean 'units'\?\)"):
        resolve({**conf, "units": []}, conf=conf)
    # A key that is someone's ID number reaches Airflow's own task log, which no guard of
    # ours cleans: it is named masked (§6).
    keyed = {**conf, "14030219900101123X": 1}
    with pytest.raises(RunSpecError) as caught:
        resolve({**conf, "units": []}, conf=keyed)
    assert "14030219900101123X" not in str(caught.value) and "140*************3X" in str(caught.value)
    assert "14030219900101123X" not in str(caught.value.zh)


def test_run_date_is_the_policy_zone_date():
    zone = load_policy().timezone
    # 17:00 UTC is 01:00 the next day in Asia/Shanghai: the scheduled run of the 26th.
    assert local_date(datetime(2026, 11, 25, 17, 0, tzinfo=UTC), zone) == date(2026, 11, 26)
    assert local_date(datetime(2026, 11, 25, 3, 0, tzinfo=UTC), zone) == date(2026, 11, 25)


def test_sources_open_read_only(tmp_path):
    import sqlite3

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from bdcwatch.sources.connections import read_only

    path = tmp_path / "registration.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    engine = create_engine(read_only(make_url(f"sqlite:///{path}")))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar_one() == 0
        with pytest.raises(OperationalError, match="readonly"):
            conn.execute(text("INSERT INTO t VALUES (1)"))
    assert read_only(make_url("postgresql://u@h/db")) == make_url("postgresql://u@h/db")


def test_a_period_in_the_future_is_refused_unless_it_is_a_dry_run():
    """Issue 11 item 5: case_timeliness_watch for 2027-02 mailed every unit about cases
    "overdue as of 2027-03-01". A period ending after now is refused, with what to do."""
    now = datetime(2026, 11, 30, 20, 5)  # the local wall clock in the policy's zone
    params = {"period_start": "2027-02-01", "period_end": "2027-03-01"}
    with pytest.raises(RunSpecError, match=r"period 2027-02 ends in the future.*set dry_run to true"):
        RunSpec.resolve(params, default_period=DEFAULT, policy=load_policy(), now=now)
    dry = RunSpec.resolve({**params, "dry_run": True}, default_period=DEFAULT, policy=load_policy(), now=now)
    assert dry.dry_run and dry.period_label == "2027-02"
    # A period ending today 00:00 has ended; one ending tomorrow 00:00 has not.
    ended = {"period_start": "2026-11-29", "period_end": "2026-11-30"}
    assert not RunSpec.resolve(ended, default_period=DEFAULT, policy=load_policy(), now=now).dry_run
    with pytest.raises(RunSpecError, match="in the future"):
        RunSpec.resolve({"period_start": "2026-11-30", "period_end": "2026-12-01"}, default_period=DEFAULT,
                        policy=load_policy(), now=now)
