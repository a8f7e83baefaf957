"""Case rules (plan items 20, 26, 33): returns without lawful reason, repeated returns, and
mortgages registered on seized property, exactly as CONTRACT §3 words them.

A return's unit is its case's DJJG. MySQL runs with ONLY_FULL_GROUP_BY, so every
non-grouped column is aggregated.
"""

from __future__ import annotations

from typing import Any

from . import Rule, RuleInput

RETURN_IN_PERIOD = "b.thsj >= :ps AND b.thsj < :pe"


def _reason_codes(ri: RuleInput) -> dict[str, Any]:
    return {"reason_codes": [str(code) for code in ri.policy.raw["return_reason_codes"]]}


def _repeat_window(ri: RuleInput) -> dict[str, Any]:
    return {"window_hours": int(ri.policy.raw["repeat_return_days"]) * 24}


def _mortgage_codes(ri: RuleInput) -> dict[str, Any]:
    return {"mortgage_codes": [str(code) for code in ri.policy.raw["mortgage_qllx_codes"]]}


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
    return f"""
        SELECT b.id AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_bysl b
        JOIN stg_djt_dj_sl s ON s.ywh = b.ywh
        JOIN stg_bdc_bysl p ON p.bdcdyh = b.bdcdyh AND p.id <> b.id
        JOIN stg_djt_dj_sl ps ON ps.ywh = p.ywh AND ps.djjg = s.djjg
        WHERE {RETURN_IN_PERIOD} AND b.bdcdyh IS NOT NULL AND TRIM(b.bdcdyh) <> ''
          AND (p.thsj < b.thsj OR (p.thsj = b.thsj AND p.id < b.id))
          AND {window_end} >= b.thsj
        GROUP BY b.id"""


def _sealed_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object(
        [("bdcdyh", "MIN(s.bdcdyh)"), ("dbsj", "MIN(d.dbsj)"), ("cf_ywh", "MIN(c.ywh)"),
         ("cfjg", "MIN(c.cfjg)"), ("cfkssj", "MIN(c.cfkssj)")]
    )
    return f"""
        SELECT s.ywh AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_djt_dj_sl s
        JOIN stg_djf_dj_db d ON d.ywh = s.ywh
        JOIN stg_qlf_ql_cfdj c ON c.bdcdyh = s.bdcdyh AND c.cfkssj <= d.dbsj
                               AND (c.jfsj IS NULL OR c.jfsj > d.dbsj)
        WHERE s.qllx IN :mortgage_codes AND d.dbsj >= :ps AND d.dbsj < :pe
        GROUP BY s.ywh"""


CASE_RULES: tuple[Rule, ...] = (
    Rule("RETURN_UNJUSTIFIED", "medium", "BDC_BYSL.ID", False, _unjustified_sql, _reason_codes,
         "退件未注明法定理由（随意退件）"),
    Rule("RETURN_REPEATED", "medium", "BDC_BYSL.ID", False, _repeated_sql, _repeat_window,
         "同一不动产单元短期内被同一机构重复退件"),
    Rule("MORTGAGE_WHILE_SEALED", "high", "YWH", False, _sealed_sql, _mortgage_codes,
         "查封期间办理了抵押登记"),
)
