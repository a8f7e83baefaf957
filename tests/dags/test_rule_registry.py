"""The rule registry is the one list: every rule of CONTRACT §3 is declared once, its
declaration tells the truth about the tables it reads and the detail it writes, and every
rule is run by some DAG. The findings people and intakes report (CONTRACT §8) are in the
same registry, with titles and labels but no SQL, and no DAG runs them as rules."""

from __future__ import annotations

import re
import runpy
from datetime import date
from pathlib import Path

import pytest

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.dates.periods import Period
from bdcwatch.rules import RuleInput
from bdcwatch.store.dialect import Dialect

DAGS = Path(__file__).resolve().parents[2] / "dags"
CONTRACT_RULES = {
    "ECERT_MISSING", "ECERT_LATE", "ECERT_NOT_REVOKED", "ECERT_MISMATCH", "ECERT_DUPLICATE", "ECERT_ORPHAN",
    "ECERT_BAD_ID", "CASE_OVERDUE", "CASE_OVERDUE_OPEN", "CASE_QUEUE_JUMP", "RETURN_UNJUSTIFIED", "RETURN_REPEATED",
    "MORTGAGE_WHILE_SEALED", "ONLINE_RATIO_LOW", "STAFF_UNTRAINED_ON_POST", "STAFF_UNKNOWN_HANDLER",
    "STAFF_INACTIVE_HANDLER", "STAFF_TRAINING_HOURS", "STAFF_TRAINING_BEHIND", "STAFF_RECORD_INCOMPLETE",
    "STAFF_ROTATION_DUE", "STAFF_PLEDGE_MISSING",
}
# CONTRACT §8: findings reported by reviewers, the complaint intake and the duty check.
REPORTED_RULES = {"REVIEW_DEFECT", "COMPLAINT", "DUTY_MISSED"}
ENGINE_TABLES = {"work_calendar", "quarantine"}  # supervision_db tables a rule may read besides staging


def sql_of(rule, dialect: str = "sqlite") -> str:
    ri = RuleInput(Period(date(2026, 3, 1), date(2026, 4, 1)), load_policy(), Dialect(dialect))
    return rule.sql(ri)


def detail_keys(sql: str) -> set[str]:
    """The literal keys of the JSON detail object the SQL builds."""
    start = re.search(r"(json_object|json_build_object|JSON_OBJECT)\(", sql)
    assert start, "the rule builds no JSON detail"
    depth, position, body = 1, start.end(), []
    while depth:
        char = sql[position]
        depth += {"(": 1, ")": -1}.get(char, 0)
        body.append(char if depth == 1 else ("(" if char == "(" and depth == 2 else " "))
        position += 1
    return set(re.findall(r"'(\w+)',", "".join(body)))


def test_every_contract_rule_is_declared_once():
    assert set(rules.all_rules()) == CONTRACT_RULES | REPORTED_RULES
    assert {code for code, rule in rules.all_rules().items() if rule.detected} == CONTRACT_RULES


@pytest.mark.parametrize("code", sorted(REPORTED_RULES))
def test_reported_findings_are_declared_for_mail_and_ui(code):
    rule = rules.get(code)
    assert (rule.family, rule.reads, rule.sql, rule.needs_calendar) == (rules.REPORTED, (), None, False)
    assert rule.title and not rule.title.isascii() and rule.reporter and not rule.reporter.isascii()
    assert rule.labels and all(not label.isascii() for label in rule.labels.values())
    assert rule.subject_type in rules.SUBJECT_TYPES
    with pytest.raises(ValueError, match="not detected by SQL"):
        rule.detection_sql(RuleInput(Period(date(2026, 3, 1), date(2026, 4, 1)), load_policy(), Dialect("sqlite")))


def test_declare_refuses_a_detected_rule_without_sql_and_a_reported_one_with_it():
    with pytest.raises(ValueError, match="only a reported finding"):
        rules.declare(code="X_NO_SQL", severity="low", subject_type="YWH", family="case", reads=(), title="无",
                      labels={}, sql=None)
    with pytest.raises(ValueError, match="only a reported finding"):
        rules.declare(code="X_SQL", severity="low", subject_type="YWH", family=rules.REPORTED, reads=(), title="有",
                      labels={}, sql=lambda ri: "SELECT 1", reporter="某处")
    assert "X_NO_SQL" not in rules.all_rules() and "X_SQL" not in rules.all_rules()


@pytest.mark.parametrize("code", sorted(CONTRACT_RULES))
def test_declared_tables_are_the_tables_the_sql_reads(code):
    rule = rules.get(code)
    read = set(re.findall(r"\b(stg_\w+|work_calendar|quarantine)\b", sql_of(rule)))
    declared = {f"stg_{table.lower()}" for table in rule.reads}
    assert read - ENGINE_TABLES == declared, f"{code} reads {sorted(read)}, declares {sorted(rule.reads)}"
    assert ("work_calendar" in read) == rule.needs_calendar, code


@pytest.mark.parametrize("code", sorted(CONTRACT_RULES))
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_every_detail_key_has_a_chinese_label(code, dialect):
    rule = rules.get(code)
    assert detail_keys(sql_of(rule, dialect)) == set(rule.labels), code
    assert rule.title and not rule.title.isascii(), f"{code} needs a Chinese title for heads"


def test_every_rule_is_run_by_a_dag_that_loads_what_it_reads():
    run: set[str] = set()
    for path in DAGS.glob("*.py"):
        module = runpy.run_path(str(path))
        codes = module.get("RULES", [])
        run |= set(codes)
        if codes:
            assert set(rules.tables_read(codes)) <= set(module["TABLES"]), path.name
    assert run == CONTRACT_RULES


def test_the_six_prohibitions_have_their_rules():
    from bdcwatch.reports.six_prohibitions import groups

    grouped = {p.text: set(p.rules) for p in groups()}
    assert len(grouped) == 6
    assert grouped["不准随意增加登记材料或环节"] == {"RETURN_UNJUSTIFIED", "RETURN_REPEATED"}
    assert sum(1 for codes in grouped.values() if not codes) == 3  # not machine-checkable


@pytest.mark.parametrize("code", sorted(CONTRACT_RULES))
def test_every_rule_explains_itself_to_heads_and_names_when_its_problem_happened(code):
    """Issue 11: each finding's explanation comes from its rule's declaration, in plain
    Chinese; the trend chart counts a problem in the month of the rule's defining date."""
    rule = rules.get(code)
    assert len(rule.explanation) >= 20 and not re.search(r"[A-Za-z]{4,}", rule.explanation.replace("GB/T", "")), code
    if rule.occurred is not None:
        assert rule.occurred in rule.labels, code
        assert re.search(r"(时间|日期|期限|办件)$", rule.labels[rule.occurred]), f"{code}: {rule.occurred} is not a date"
    dated = {"ECERT_MISSING", "ECERT_NOT_REVOKED", "ECERT_ORPHAN", "CASE_OVERDUE", "CASE_QUEUE_JUMP",
             "RETURN_UNJUSTIFIED", "RETURN_REPEATED", "MORTGAGE_WHILE_SEALED"}
    if code in dated:  # the contract's defining timestamp is in the detail: it must be used
        assert rule.occurred is not None, code
