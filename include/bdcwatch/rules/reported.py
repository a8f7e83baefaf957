"""Findings that people or intakes report (CONTRACT §8), declared in the one registry so
mail, the ledger and the UI show them like every finding: title, detail labels, severity.

No SQL detects them; the ledger records them through ``ledger.reported``:

* REVIEW_DEFECT — a sampled case a reviewer judged 不合格 (plan item 32;
  ``ledger.verdicts``). Subject the case's YWH, unit its DJJG, period the inspection's.
* COMPLAINT — a 12345 / 好差评 / 信访 ticket about a unit (plan item 31;
  ``intake.complaints``). Subject the 工单编号; severity by 诉求类型 (policy
  ``intake.complaint_severity``), the declared one being the default.
* DUTY_MISSED — a duty no system records (plan items 3, 4, 11, 19, 30) without evidence by
  its deadline (``ledger.duties``). Subject the duty's code, period the duty's period;
  severity per duty in the policy.
"""

from __future__ import annotations

from bdcwatch.config.policy import Severity
from bdcwatch.rules.base import declare_reported

REVIEW_DEFECT = "REVIEW_DEFECT"
COMPLAINT = "COMPLAINT"
DUTY_MISSED = "DUTY_MISSED"

declare_reported(
    code=REVIEW_DEFECT, severity=Severity.MEDIUM, subject_type="YWH", title="案卷质量评查不合格",
    labels={"reviewer": "评查人", "description": "问题描述", "inspection": "评查批次", "reviewed_on": "评查日期"},
    reporter="人工案卷评查（第32项）", per_period=True, occurred="reviewed_on",
    explanation="月度质量评查中，评查人认定该抽查案卷不合格。请按评查意见纠正案卷或补正手续，整改后在问题台账销号。",
)
declare_reported(
    code=COMPLAINT, severity=Severity.MEDIUM, subject_type="GDBH", title="群众反映问题（12345、好差评、信访）",
    labels={"source": "来源", "accepted_at": "受理时间", "reported_unit": "被反映单位", "ywh": "业务号",
            "kind": "诉求类型", "content": "内容"},
    reporter="投诉举报受理（第31项）", occurred="accepted_at",
    explanation="群众通过12345、好差评或信访反映了本单位的问题。请核实情况、答复群众，属实的整改到位后在问题台账销号。",
)
declare_reported(
    code=DUTY_MISSED, severity=Severity.MEDIUM, subject_type="DUTY", title="年度履职事项逾期未开展（未登记佐证）",
    labels={"duty": "事项", "plan_items": "实施方案条目", "deadline": "完成期限", "required": "应开展次数",
            "recorded": "期限内已登记次数"},
    reporter="履职佐证核查（第3、4、11、19、30项）", per_period=True, occurred="deadline",
    explanation="实施方案要求的年度履职事项到期仍未登记开展情况。请尽快组织开展，并由运维人员登记佐证材料。",
)
