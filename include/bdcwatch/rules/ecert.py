"""E-certificate completeness (plan item 16): the seven ECERT_* rules of CONTRACT §3.

Matching is on the normalized certificate number computed at load time
(``bdcqzh_norm``), holder sets on ``holders_norm``. Everything is judged as of the period
end: an e-certificate exists then if ZZBFRQ < as-of, and is valid (ZZZT = 1) then if it
exists and is ZZZT 1 now or was cancelled only at or after as-of. ``:grace_cutoff`` is
as-of − max_delay_hours, so ``t <= :grace_cutoff`` reads "t + max_delay_hours ≤ as-of".
A certificate or e-certificate held in quarantine is still in the source: its counterpart
is not reported as unmatched (``_held``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, text

from bdcwatch.config.policy import Policy, Severity
from bdcwatch.dates.periods import Period
from bdcwatch.rules.base import RuleInput, declare
from bdcwatch.store.models import Timestamp

ZS_IN_PERIOD = "z.szsj >= :ps AND z.szsj < :pe"
ECERT_EXISTS = "e.zzbfrq < :asof"
ECERT_VALID = "e.zzbfrq < :asof AND (e.zzzt = 1 OR (e.zzzt = 2 AND e.zxsj >= :asof))"


def _printed(ri: RuleInput) -> str:
    """The certificate's print time as the period filter should see it. On SQLite, for a
    period that covers most of the archive, a unary plus hides the column from the
    planner so it walks certificates in number order (each e-certificate probe then
    lands next to the previous one) instead of in time order (random probes)."""
    return ri.dialect.unindexed("z.szsj") if ri.is_wide("stg_bdc_zs", "szsj") else "z.szsj"


def _zs_in_period(ri: RuleInput) -> str:
    printed = _printed(ri)
    return f"{printed} >= :ps AND {printed} < :pe"


def _grace(ri: RuleInput) -> dict[str, Any]:
    return {"grace_cutoff": ri.period.as_of - timedelta(hours=ri.policy.ecert.max_delay_hours)}


def _delay(ri: RuleInput) -> dict[str, Any]:
    return {"delay_hours": ri.policy.ecert.max_delay_hours}


def _type_codes(ri: RuleInput) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for index, (zslx, code) in enumerate(sorted(ri.policy.ecert.type_codes.items())):
        params[f"zslx_{index}"] = zslx
        params[f"zzlxdm_{index}"] = code
    return params


def _expected_type_sql(ri: RuleInput) -> str:
    whens = " ".join(
        f"WHEN :zslx_{i} THEN :zzlxdm_{i}" for i in range(len(ri.policy.ecert.type_codes))
    )
    # A ZSLX with no mapping expects no type at all, so any e-certificate type differs.
    return f"COALESCE(CASE z.zslx {whens} END, '')"


def _held(table: str, number: str) -> str:
    """A row of ``table`` with this normalized BDCQZH sits in quarantine, open: the source
    has it, held back for a defect operations were told of (migration 0012). Its
    counterpart is then not reported as unmatched (ECERT_MISSING, ECERT_ORPHAN), which
    would blame the unit for a data defect instead of a missing certificate."""
    return (f"EXISTS (SELECT 1 FROM quarantine q WHERE q.bdcqzh_norm = {number} "
            f"AND q.source_table = '{table}' AND q.resolved_at IS NULL)")


def _missing_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object(
        [("zsid", "MIN(z.zsid)"), ("ywh", "MIN(z.ywh)"), ("bdcqzh", "MIN(z.bdcqzh)"), ("szsj", "MIN(z.szsj)")]
    )
    return f"""
        SELECT z.bdcqzh_norm AS subject_id, MIN(z.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_zs z
        WHERE {_zs_in_period(ri)} AND {_printed(ri)} <= :grace_cutoff
          AND NOT EXISTS (SELECT 1 FROM stg_bdc_dzzz_zzxx e
                          WHERE e.bdcqzh_norm = z.bdcqzh_norm AND {ECERT_EXISTS})
          AND NOT {_held("BDC_DZZZ_ZZXX", "z.bdcqzh_norm")}
        GROUP BY z.bdcqzh_norm"""


def _late_sql(ri: RuleInput) -> str:
    deadline = ri.dialect.add_hours("d.dbsj", "delay_hours")
    detail = ri.dialect.json_object(
        [("ywh", "MIN(z.ywh)"), ("dbsj", "MIN(d.dbsj)"), ("zzid", "MIN(e.zzid)"), ("zzbfrq", "MAX(e.zzbfrq)")]
    )
    return f"""
        SELECT z.bdcqzh_norm AS subject_id, MIN(z.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_zs z
        JOIN stg_djf_dj_db d ON d.ywh = z.ywh AND d.dbsj < :asof
        JOIN stg_bdc_dzzz_zzxx e ON e.bdcqzh_norm = z.bdcqzh_norm AND {ECERT_EXISTS}
        WHERE {_zs_in_period(ri)} AND e.zzbfrq > {deadline}
        GROUP BY z.bdcqzh_norm"""


def _not_revoked_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object([("zsid", "MIN(z.zsid)"), ("zxsj", "MIN(z.zxsj)"), ("zzid", "MIN(e.zzid)")])
    return f"""
        SELECT z.bdcqzh_norm AS subject_id, MIN(z.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_zs z
        JOIN stg_bdc_dzzz_zzxx e ON e.bdcqzh_norm = z.bdcqzh_norm AND {ECERT_VALID}
        WHERE z.zszt = 2 AND z.zxsj >= :ps AND z.zxsj < :pe AND z.zxsj <= :grace_cutoff
        GROUP BY z.bdcqzh_norm"""


def _mismatch_sql(ri: RuleInput) -> str:
    expected_type = _expected_type_sql(ri)
    unit_differs = "CASE WHEN COALESCE(e.bdcdyh, '') <> z.bdcdyh THEN 1 ELSE 0 END"
    holders_differ = "CASE WHEN e.holders_norm <> z.holders_norm THEN 1 ELSE 0 END"
    type_differs = f"CASE WHEN e.zzlxdm <> {expected_type} THEN 1 ELSE 0 END"
    detail = ri.dialect.json_object(
        [("zzid", "MIN(e.zzid)"), ("bdcdyh_differs", f"MAX({unit_differs})"),
         ("holders_differ", f"MAX({holders_differ})"), ("type_differs", f"MAX({type_differs})")]
    )
    return f"""
        SELECT z.bdcqzh_norm AS subject_id, MIN(z.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_zs z
        JOIN stg_bdc_dzzz_zzxx e ON e.bdcqzh_norm = z.bdcqzh_norm AND {ECERT_VALID}
        WHERE {_zs_in_period(ri)}
          AND ({unit_differs} + {holders_differ} + {type_differs}) > 0
        GROUP BY z.bdcqzh_norm"""


def _duplicate_sql(ri: RuleInput) -> str:
    # Over a wide period, find numbers with several valid e-certificates first (one ordered
    # pass over the covering index), then keep those printed in the period: far cheaper
    # than grouping the join of every certificate in the period with its e-certificates.
    # Over a narrow one (the daily rolling window) that pass would read the whole archive
    # for a few hundred certificates: count only the numbers printed in the period
    # (issue 13: the daily cost follows the day, not the archive). Same rows either way.
    narrow = "" if ri.is_wide("stg_bdc_zs", "szsj") else f"""
                AND e.bdcqzh_norm IN (SELECT z.bdcqzh_norm FROM stg_bdc_zs z WHERE {ZS_IN_PERIOD})"""
    detail = ri.dialect.json_object(
        [("valid_ecerts", "MIN(d.valid_ecerts)"), ("first_zzid", "MIN(d.first_zzid)"),
         ("last_zzid", "MIN(d.last_zzid)")]
    )
    return f"""
        SELECT z.bdcqzh_norm AS subject_id, MIN(z.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_zs z
        JOIN (SELECT e.bdcqzh_norm, COUNT(*) AS valid_ecerts, MIN(e.zzid) AS first_zzid, MAX(e.zzid) AS last_zzid
              FROM stg_bdc_dzzz_zzxx e
              WHERE {ECERT_VALID}{narrow}
              GROUP BY e.bdcqzh_norm
              HAVING COUNT(*) > 1) d ON d.bdcqzh_norm = z.bdcqzh_norm
        WHERE {_zs_in_period(ri)}
        GROUP BY z.bdcqzh_norm"""


def _own_issuers(ri: RuleInput) -> str:
    """In a province sharing one provincial e-certificate system: leave out e-certificates
    another city's unit issued (theirs to judge; each city's BDC_ZS holds only its own
    certificates, so every one of theirs would be an orphan here). One city: no filter."""
    return "AND (e.zzbfjgdm IS NULL OR e.zzbfjgdm NOT IN :other_cities_units)" if ri.policy.other_cities_units else ""


def _issuer_params(ri: RuleInput) -> dict[str, Any]:
    units = ri.policy.other_cities_units
    return {"other_cities_units": sorted(units)} if units else {}


def _orphan_params(ri: RuleInput) -> dict[str, Any]:
    return {**_grace(ri), **_issuer_params(ri)}


def _orphan_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object([("bdcqzh", "e.bdcqzh"), ("zzbfrq", "e.zzbfrq")])
    return f"""
        SELECT e.zzid AS subject_id, e.zzbfjgdm AS unit_code, {detail} AS detail
        FROM stg_bdc_dzzz_zzxx e
        WHERE e.zzbfrq >= :ps AND e.zzbfrq < :pe AND e.zzbfrq <= :grace_cutoff AND {ECERT_VALID}
          AND NOT EXISTS (SELECT 1 FROM stg_bdc_zs z WHERE z.bdcqzh_norm = e.bdcqzh_norm AND z.szsj < :asof)
          AND NOT {_held("BDC_ZS", "e.bdcqzh_norm")} {_own_issuers(ri)}"""


def _bad_id_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object([("zzbs", "e.zzbs"), ("problem", "e.zzbs_problem")])
    return f"""
        SELECT e.zzid AS subject_id, e.zzbfjgdm AS unit_code, {detail} AS detail
        FROM stg_bdc_dzzz_zzxx e
        WHERE e.zzbfrq >= :ps AND e.zzbfrq < :pe AND e.zzbs_problem IS NOT NULL {_own_issuers(ri)}"""


ECERT_TABLES = ("BDC_ZS", "BDC_DZZZ_ZZXX")

declare(
    code="ECERT_MISSING", severity=Severity.HIGH, subject_type="BDCQZH", family="ecert", reads=ECERT_TABLES,
    title="纸质证书/证明缮证后超过时限仍无对应电子证照",
    labels={"zsid": "证书ID", "ywh": "业务号", "bdcqzh": "证号", "szsj": "缮证时间"},
    explanation="纸质证书（证明）缮证已超过规定时限，省级电子证照系统中仍查不到同一证号的电子证照。请核实是否漏发，及时补发，做到“纸电同步”。",
    occurred="szsj",
    sql=_missing_sql, params=_grace,
)
declare(
    code="ECERT_LATE", event=True, severity=Severity.MEDIUM, subject_type="BDCQZH", family="ecert",
    reads=("BDC_ZS", "DJF_DJ_DB", "BDC_DZZZ_ZZXX"),
    title="电子证照颁发晚于登簿后规定时限",
    labels={"ywh": "业务号", "dbsj": "登簿时间", "zzid": "电子证照ID", "zzbfrq": "颁发时间"},
    explanation="电子证照颁发时间晚于登簿后的规定时限。请查明延迟原因，落实登簿后即时生成电子证照的要求。",
    occurred="dbsj",
    sql=_late_sql, params=_delay,
)
declare(
    code="ECERT_NOT_REVOKED", severity=Severity.HIGH, subject_type="BDCQZH", family="ecert", reads=ECERT_TABLES,
    title="纸质证书已注销，电子证照仍为现势",
    labels={"zsid": "证书ID", "zxsj": "注销时间", "zzid": "电子证照ID"},
    explanation="纸质证书已注销，但电子证照仍为现势状态，可能被继续使用。请立即在电子证照系统中注销对应的电子证照。",
    occurred="zxsj",
    sql=_not_revoked_sql, params=_grace,
)
declare(
    code="ECERT_MISMATCH", severity=Severity.HIGH, subject_type="BDCQZH", family="ecert", reads=ECERT_TABLES,
    title="电子证照与纸质证书的单元号、权利人或证照类型不一致",
    labels={"zzid": "电子证照ID", "bdcdyh_differs": "单元号不一致", "holders_differ": "权利人不一致",
            "type_differs": "证照类型不一致"},
    flags=("bdcdyh_differs", "holders_differ", "type_differs"),
    explanation="电子证照记载的不动产单元号、权利人或证照类型与纸质证书不一致。请对照登记簿核实，更正有误的一方。",
    sql=_mismatch_sql, params=_type_codes,
)
declare(
    code="ECERT_DUPLICATE", severity=Severity.MEDIUM, subject_type="BDCQZH", family="ecert", reads=ECERT_TABLES,
    title="同一证号存在多个现势电子证照",
    labels={"valid_ecerts": "现势电子证照数", "first_zzid": "电子证照ID", "last_zzid": "电子证照ID"},
    explanation="同一证号同时存在多个现势电子证照。请核实后注销多余的电子证照，只保留一个有效证照。",
    sql=_duplicate_sql,
)
declare(
    code="ECERT_ORPHAN", severity=Severity.MEDIUM, subject_type="ZZID", family="ecert", reads=ECERT_TABLES,
    title="现势电子证照找不到对应的纸质证书/证明",
    labels={"bdcqzh": "证号", "zzbfrq": "颁发时间"},
    explanation="电子证照为现势状态，但登记系统中查不到同一证号的纸质证书或证明。请核实是否误发或证号录入有误。",
    occurred="zzbfrq",
    sql=_orphan_sql, params=_orphan_params,
)
declare(
    code="ECERT_BAD_ID", severity=Severity.LOW, subject_type="ZZID", family="ecert", reads=("BDC_DZZZ_ZZXX",),
    title="证照标识格式或校验位错误",
    labels={"zzbs": "证照标识", "problem": "问题"},
    explanation="证照标识不符合国家标准（GB/T 36904）的格式，或校验位错误，其他系统可能无法识别该电子证照。请联系电子证照系统维护方更正。",
    sql=_bad_id_sql, params=_issuer_params,
)


def ecert_coverage(engine: Engine, period: Period, policy: Policy) -> dict[str, tuple[int, int]]:
    """Per unit: (paper certificates whose ``max_delay_hours`` grace ended in the period,
    how many of them have a matching e-certificate issued before the period end) — the
    coverage of the digests, the bulletin, the KPIs and the annual summary.

    ECERT_MISSING's test (SZSJ + grace ≤ as-of, a matching e-certificate before as-of) on
    the certificates that reach it in this period: SZSJ + grace in (start, end]. A
    certificate printed on a month's last day reaches it in the next month, so each
    certificate counts in exactly one of consecutive periods (with SZSJ in the period, the
    last day's certificates fell into none, and twelve months did not add up to the year).
    """
    grace = timedelta(hours=policy.ecert.max_delay_hours)
    sql = text(f"""
        SELECT z.djjg, COUNT(*) AS total,
               SUM(CASE WHEN EXISTS (SELECT 1 FROM stg_bdc_dzzz_zzxx e
                                     WHERE e.bdcqzh_norm = z.bdcqzh_norm AND {ECERT_EXISTS})
                        THEN 1 ELSE 0 END) AS covered
        FROM stg_bdc_zs z
        WHERE z.szsj > :reached_before AND z.szsj <= :grace_cutoff
        GROUP BY z.djjg""").bindparams(
        *(bindparam(name, type_=Timestamp) for name in ("asof", "reached_before", "grace_cutoff"))
    )
    params = {"asof": period.as_of, "reached_before": period.start_at - grace, "grace_cutoff": period.as_of - grace}
    with engine.connect() as conn:
        return {row.djjg: (int(row.total), int(row.covered or 0)) for row in conn.execute(sql, params)}
