"""Chinese labels of the operations UI: statuses, severities, the finding's fields, the
lifecycle's actions, outbox states and 登记大类 codes. Detail keys are labelled by the
rule's own declaration (``rules.declare(labels=...)``)."""

from __future__ import annotations

import json
from typing import Any

from bdcwatch import rules
from bdcwatch.ledger.lifecycle import TRANSITIONS
from bdcwatch.standards.masking import mask_id_numbers

STATUS_TEXT = {"open": "待整改", "rectifying": "整改中", "closed": "已销号", "reopened": "重新打开"}
SEVERITY_TEXT = {"high": "高", "medium": "中", "low": "低"}
# What a person does when moving a finding to a status (the status form's choices).
ACTION_TEXT = {"rectifying": "开始整改", "closed": "销号（已整改并核实）", "open": "退回待整改（整改未通过）",
               "reopened": "重新打开（问题仍存在）"}
OUTBOX_TEXT = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败",
               "unconfirmed": "发送结果未确认"}
# The finding's columns (CONTRACT §4) as the detail page and the export name them.
FIELD_TEXT = {
    "id": "问题编号", "rule_title": "问题类型", "rule_code": "规则代码", "severity": "风险等级", "unit": "登记机构",
    "subject_type": "对象类型", "subject_id": "对象", "period": "期间", "occurred_on": "所属日期", "status": "状态",
    "first_detected_at": "首次发现", "last_detected_at": "最近发现", "due_date": "整改期限", "closed_at": "销号时间",
    "overdue": "是否逾期", "dag_id": "发现于", "fingerprint": "问题指纹", "detail": "问题说明",
    "recurred": "销号后仍被发现",
}
# 登记大类 (GB/T 不动产登记数据库标准, DJDL)
DJDL_TEXT = {"100": "首次登记", "200": "转移登记", "300": "变更登记", "400": "注销登记", "500": "更正登记",
             "600": "异议登记", "700": "预告登记", "800": "查封登记", "900": "其他登记"}


def status_text(code: str | None) -> str:
    return STATUS_TEXT.get(code or "", code or "")


def severity_text(code: str | None) -> str:
    return SEVERITY_TEXT.get(code or "", code or "")


def subject_type_text(code: str | None) -> str:
    return rules.SUBJECT_TYPES.get(code or "", code or "")


def djdl_text(code: str | None) -> str:
    return f"{code} {DJDL_TEXT[code]}" if code in DJDL_TEXT else (code or "")


def next_statuses(status: str) -> list[tuple[str, str]]:
    """The changes a person may make from ``status``: (status, action label)."""
    return [(to, ACTION_TEXT.get(to, to)) for to in TRANSITIONS.get(status, ())]


def detail_pairs(rule_code: str, detail_json: str) -> list[tuple[str, str]]:
    """A finding's detail as (Chinese label, value) rows, labelled by its rule's
    declaration; values masked (CONTRACT §6). Text that is not JSON is shown as is."""
    try:
        detail = json.loads(detail_json) if detail_json else {}
    except ValueError:
        return [("说明", mask_id_numbers(str(detail_json)))]
    if not isinstance(detail, dict):
        return [("说明", mask_id_numbers(str(detail)))]
    rule = rules.all_rules().get(rule_code)
    labels = rule.labels if rule else {}
    flags = rule.flags if rule else frozenset()
    pairs = []
    for key, value in detail.items():
        label = labels.get(key, key)
        if key in flags:
            pairs.append((label, "是" if value not in (None, "", 0, False) else "否"))
        else:
            pairs.append((label, mask_id_numbers(_text(value))))
    return pairs


def _text(value: Any) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)

# Inspection cycles (plan items 32, 34) as the samples page names them.
CYCLE_TEXT = {"monthly_quality_check": "月度质量评查", "county_self_inspection": "县级自查", "city_check": "市级排查",
              "provincial_spot_check": "省级抽查"}


def cycle_text(dag_id: str) -> str:
    """The Chinese name of an inspection cycle by its DAG id (a province city's
    ``monthly_quality_check__1401`` as its contract id's)."""
    return CYCLE_TEXT.get(dag_id.partition("__")[0], dag_id)
