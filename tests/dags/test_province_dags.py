"""With a province file every DAG file builds one DAG per city, each city's tasks on its
own Celery queue and pool; without one, exactly the contract's DAGs (issue 13 item 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bdcwatch.config.province import load_province
from tests.dags.test_dag_integrity import CONTRACT_DAG_IDS, DAGS

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "province.example.yaml"


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_province_builds_a_dag_per_city_on_its_queue_and_pool(monkeypatch):
    monkeypatch.setenv("BDCWATCH_POLICY", str(EXAMPLE))
    province = load_province(EXAMPLE)
    assert province is not None
    dagbag = _dagbag()
    assert dagbag.import_errors == {}
    expected = {city.dag_id(base) for base in CONTRACT_DAG_IDS for city in province.cities}
    assert set(dagbag.dag_ids) == expected and len(expected) == 3 * len(CONTRACT_DAG_IDS)
    for city in province.cities:
        for base in CONTRACT_DAG_IDS:
            dag = dagbag.dags[city.dag_id(base)]
            assert Path(dag.fileloc).stem == base  # the workers find it in that DAG's file
            assert f"city_{city.code}" in dag.tags
            queue, pool = (("default", "default_pool") if city.home else (f"city_{city.code}", f"city_{city.code}"))
            assert dag.tasks
            for task in dag.tasks:  # mapped loads included
                assert (task.queue, task.pool) == (queue, pool), (dag.dag_id, task.task_id)
            units = dag.params.get_param("units").schema["examples"]
            assert units == sorted(city.policy.units), dag.dag_id
    assert dagbag.dags["ecert_completeness__1401"].dag_display_name == "ecert_completeness · 太原市"
    # A complaints drop announced for one city starts that city's intake only.
    assets = {city.code: [a.uri for a in dagbag.dags[city.dag_id("complaint_intake")].timetable.asset_condition.objects]
              for city in province.cities}
    assert assets == {"1403": ["bdcwatch://intake/complaints"], "1401": ["bdcwatch://intake/complaints/1401"],
                      "1404": ["bdcwatch://intake/complaints/1404"]}


def test_without_a_province_file_exactly_the_contract_dags(monkeypatch):
    monkeypatch.delenv("BDCWATCH_POLICY", raising=False)
    dagbag = _dagbag()
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == CONTRACT_DAG_IDS
    for dag in dagbag.dags.values():
        assert not any(tag.startswith("city_") for tag in dag.tags)
        for task in dag.tasks:
            assert (task.queue, task.pool) == ("default", "default_pool"), (dag.dag_id, task.task_id)


def test_a_broken_province_file_leaves_the_home_dags(monkeypatch, tmp_path):
    broken = tmp_path / "province.yaml"
    broken.write_text("cities:\n  - {code: '1403', name: 阳泉市, policy: missing.yaml}\n", encoding="utf-8")
    monkeypatch.setenv("BDCWATCH_POLICY", str(broken))
    dagbag = _dagbag()
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == CONTRACT_DAG_IDS


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_stay_thin(path):
    """The per-city loop lives in orchestration.cities, not in the DAG files."""
    text = path.read_text(encoding="utf-8")
    assert "@city_dags(" in text and "for city" not in text


def _loads(dagbag):
    return {dag_id: dag.get_task("load") for dag_id, dag in dagbag.dags.items() if "load" in dag.task_dict}


def test_loads_run_one_at_a_time_unless_the_deployment_says_otherwise(monkeypatch):
    """SQLite (the embedded default) takes one writer: one table at a time. A deployment on
    PostgreSQL sets BDCWATCH_PARALLEL_LOADS (deploy/airflow.env) and its runs load that many
    tables side by side; a value that is not a positive integer fails the DAG files' import
    with the variable's name (shown among the UI's import errors)."""
    monkeypatch.delenv("BDCWATCH_POLICY", raising=False)
    monkeypatch.delenv("BDCWATCH_PARALLEL_LOADS", raising=False)
    loads = _loads(_dagbag())
    assert len(loads) == 10 and {t.max_active_tis_per_dagrun for t in loads.values()} == {1}
    production = dict(re.findall(r'^(\w+)="([^"]*)"$', (Path(__file__).resolve().parents[2] / "deploy" / "airflow.env")
                                  .read_text(encoding="utf-8"), re.M))
    monkeypatch.setenv("BDCWATCH_PARALLEL_LOADS", production["BDCWATCH_PARALLEL_LOADS"])
    loads = _loads(_dagbag())
    assert {t.max_active_tis_per_dagrun for t in loads.values()} == {3}
    assert all(t.map_index_template for t in loads.values())  # still shows each table
    monkeypatch.setenv("BDCWATCH_PARALLEL_LOADS", "²")  # a digit to str.isdigit, not to int()
    errors = _dagbag().import_errors
    assert errors and all("BDCWATCH_PARALLEL_LOADS must be a positive integer" in e for e in errors.values())
