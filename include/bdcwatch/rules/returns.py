"""Returns and seizures (plan items 20, 26, 33): returns without lawful reason (随意退件),
repeated returns of the same unit number, and mortgages registered on seized property.
A return's unit is its case's DJJG."""

from __future__ import annotations

from typing import Any

from bdcwatch.config.policy import Severity
from bdcwatch.rules.base import Prohibition, RuleInput, declare
from bdcwatch.rules.time_limits import mortgage_params

RETURN_IN_PERIOD = "b.thsj >= :ps AND b.thsj < :pe"
RETURNS = ("BDC_BYSL", "DJT_DJ_SL")


def _reason_codes(ri: RuleInput) -> dict[str, Any]:
    return {"reason_codes": list(ri.policy.return_reason_codes)}


def _repeat_window(ri: RuleInput) -> dict[str, Any]:
    return {"window_hours": ri.policy.repeat_return_days * 24}


def _unjustified_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object(
        [("ywh", "MIN(b.ywh)"), ("thsj", "MIN(b.thsj)"), ("thyydm", "MIN(b.thyydm)"), ("thyy", "MIN(b.thyy)")]
    )
    return f"""
        SELECT b.id AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_bysl b
        LEFT JOIN stg_djt_dj_sl s ON s.ywh = b.ywh
        WHERE {RETURN_IN_PERIOD}
          AND (b.thyydm IS NULL OR TRIM(b.thyydm) = '' OR TRIM(b.thyydm) NOT IN :reason_codes)
        GROUP BY b.id"""


def _repeated_sql(ri: RuleInput) -> str:
    window_end = ri.dialect.add_hours("p.thsj", "window_hours")
    detail = ri.dialect.json_object(
        [("bdcdyh", "MIN(b.bdcdyh)"), ("thsj", "MIN(b.thsj)"), ("previous_id", "MAX(p.id)"),
         ("previous_thsj", "MAX(p.thsj)")]
    )
    # "Already returned within the previous N days": an earlier return of the same unit
    # number by the same DJJG at most N days before this one (same second: lower id first).
    # The earlier return's unit is checked in EXISTS so that planners without statistics
    # (SQLite) reach it through the unit number, not by scanning the unit's cases.
    return f"""
        SELECT b.id AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_bysl b
        JOIN stg_djt_dj_sl s ON s.ywh = b.ywh
        JOIN stg_bdc_bysl p ON p.bdcdyh = b.bdcdyh AND p.id <> b.id
        WHERE {RETURN_IN_PERIOD} AND b.bdcdyh IS NOT NULL AND TRIM(b.bdcdyh) <> ''
          AND (p.thsj < b.thsj OR (p.thsj = b.thsj AND p.id < b.id))
          AND {window_end} >= b.thsj
          AND EXISTS (SELECT 1 FROM stg_djt_dj_sl ps WHERE ps.ywh = p.ywh AND ps.djjg = s.djjg)
        GROUP BY b.id"""


def _sealed_sql(ri: RuleInput) -> str:
    # Seizures are few, mortgages many: start from the seizures and reach the cases of the
    # same unit number by index. CROSS JOIN keeps that order in SQLite, which plans without
    # statistics (PostgreSQL and MySQL reorder inner joins freely; the result is the same).
    detail = ri.dialect.json_object(
        [("bdcdyh", "MIN(s.bdcdyh)"), ("dbsj", "MIN(d.dbsj)"), ("cf_ywh", "MIN(c.ywh)"),
         ("cfjg", "MIN(c.cfjg)"), ("cfkssj", "MIN(c.cfkssj)")]
    )
    return f"""
        SELECT s.ywh AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_qlf_ql_cfdj c
        CROSS JOIN stg_djt_dj_sl s
        CROSS JOIN stg_djf_dj_db d
        WHERE s.bdcdyh = c.bdcdyh AND d.ywh = s.ywh
          AND c.cfkssj <= d.dbsj AND (c.jfsj IS NULL OR c.jfsj > d.dbsj)
          AND s.qllx IN :mortgage_codes AND d.dbsj >= :ps AND d.dbsj < :pe
        GROUP BY s.ywh"""


declare(
    code="RETURN_UNJUSTIFIED", severity=Severity.MEDIUM, subject_type="BDC_BYSL.ID", family="case", reads=RETURNS,
    title="退件未注明法定理由（随意退件）",
    labels={"ywh": "业务号", "thsj": "退件时间", "thyydm": "退件理由代码", "thyy": "退件理由"},
    explanation="退件未注明法定退件理由，或所注理由不在法定理由清单内。请核实退件依据，不得随意退件，必要时联系申请人重新受理。",
    occurred="thsj",
    sql=_unjustified_sql, params=_reason_codes, prohibition=Prohibition.EXTRA_REQUIREMENTS,
)
declare(
    code="RETURN_REPEATED", event=True, severity=Severity.MEDIUM, subject_type="BDC_BYSL.ID", family="case", reads=RETURNS,
    title="同一不动产单元短期内被同一机构重复退件",
    labels={"bdcdyh": "不动产单元号", "thsj": "退件时间", "previous_id": "前次退件", "previous_thsj": "前次退件时间"},
    explanation="同一不动产单元短期内被本机构再次退件，可能存在“推绕拖”。请核实前后两次退件理由，一次性告知申请人需要补正的全部材料。",
    occurred="thsj",
    sql=_repeated_sql, params=_repeat_window, prohibition=Prohibition.EXTRA_REQUIREMENTS,
)
declare(
    code="MORTGAGE_WHILE_SEALED", event=True, severity=Severity.HIGH, subject_type="YWH", family="case",
    reads=("QLF_QL_CFDJ", "DJT_DJ_SL", "DJF_DJ_DB"),
    title="查封期间办理了抵押登记",
    labels={"bdcdyh": "不动产单元号", "dbsj": "登簿时间", "cf_ywh": "查封业务号", "cfjg": "查封机关",
            "cfkssj": "查封时间"},
    explanation="该不动产单元处于查封期间，仍办理了抵押登记，属于违法违规办理。请立即核查，依法纠正并查明责任。",
    occurred="dbsj",
    sql=_sealed_sql, params=mortgage_params, prohibition=Prohibition.ILLEGAL_REGISTRATION,
)
