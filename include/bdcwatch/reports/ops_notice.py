"""Notices to operations (``operations_email``) that heads never see: a message that could
not be composed, and deadlines counted on a year the working-day calendar does not know.
Technical on purpose: they name the DAG, the run, the error and the policy key to fix."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bdcwatch.config.run import Job
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.reports.common import render_template
from bdcwatch.reports.dispatch import queue
from bdcwatch.safe_text import clean, subject_line

MAX_ERROR_CHARS = 2000


def render_ops_notice(*, subject: str, lead: str, items: Sequence[str], detail: str | None, dag_id: str, run_id: str,
                      period: str) -> str:
    """The HTML of an operations notice (pure)."""
    return render_template("ops_notice.html.j2", subject=subject, lead=lead, items=items, detail=detail,
                           dag_id=dag_id, run_id=run_id, period=period)


def _notice(job: Job, key: str, subject: str, *, lead: str, items: Sequence[str], detail: str | None) -> int | None:
    html = render_ops_notice(subject=subject, lead=lead, items=items, detail=detail, dag_id=job.ctx.dag_id,
                             run_id=job.ctx.run_id, period=job.spec.period_label)
    message = OutgoingMessage(
        dedup_key=key, kind="ops_notice", dag_id=job.ctx.dag_id, run_id=job.ctx.run_id, period=job.spec.period_label,
        unit_code=None, recipients=(job.policy.operations_email,), subject=subject_line(subject), html=html,
    )
    return queue(job, message)


def compose_failure(job: Job, what: str, error: Exception) -> int | None:
    """Tell operations that ``what`` (a report, or one unit's digest) could not be composed;
    the same error of the same message in the same period is told once."""
    text = clean(f"{type(error).__name__}: {error}")[:MAX_ERROR_CHARS]
    digest = hashlib.sha256(f"{what}|{type(error).__name__}|{error}".encode("utf-8", "replace")).hexdigest()[:16]
    return _notice(
        job, f"ops|compose|{job.ctx.dag_id}|{job.spec.period_label}|{digest}",
        f"【bdcwatch 运维】邮件未能生成：{what}（{job.ctx.dag_id}，{job.spec.period_label}）",
        lead=f"生成“{what}”时出错，该邮件本次未发出。本次运行的其他邮件已照常生成和发送。",
        items=["该邮件涉及的问题仍标记为“未通知”，下次运行会再次尝试生成；同一错误只通知一次。",
               "请查看该任务日志中的完整错误信息，修正数据或程序后重新运行该 DAG（或等待下次定时运行）。"],
        detail=text,
    )


def calendar_gap(job: Job, fallback_years: Sequence[int]) -> int | None:
    """Tell operations (once a month while it lasts) that deadlines were counted Monday to
    Friday for ``fallback_years`` and how to add those years to the policy."""
    if not fallback_years:
        return None
    years = "、".join(str(y) for y in sorted(fallback_years))
    return _notice(
        job, f"ops|calendar|{','.join(map(str, sorted(fallback_years)))}|{job.ctx.now:%Y-%m}",
        f"【bdcwatch 运维】{years}年工作日历未配置：期限按周一至周五计算",
        lead=(f"{years}年的法定节假日和调休安排未在工作日历中（chinese-calendar 尚不包含该年，策略文件也未配置），"
              "办理期限、整改期限按周一至周五计算，节假日前后的结果可能偏差。负责人收到的邮件中已提示“结果可能偏差”。"),
        items=[f"在策略文件 {job.policy.source} 的 calendar: 下为 {years} 年添加 holidays（放假日期）和 makeup_workdays"
               "（调休上班日期），依据国务院办公厅当年发布的节假日安排通知；",
               "或升级 chinese-calendar 到已包含该年的版本；",
               "配置后重新运行受影响的 DAG：重新运行按新日历计算期限、发现问题；此前按周一至周五计算而发现、"
               "按新日历并不超期的问题不会自动销号（问题台账只由人工或“回头看”销号），请在问题台账中按规则筛选"
               "该期间的超期类问题，核对后由人工销号并注明“工作日历更正”。本通知每月最多一次。"],
        detail=None,
    )
