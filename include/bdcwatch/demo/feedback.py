"""The demo's people (CONTRACT §8): a 12345 office exporting complaints and reviewers
returning the monthly checklist half filled in, so ``make demo`` shows complaints, review
defects and unreviewed samples in the ledger, the digests and the bulletin.

    python -m bdcwatch.demo.feedback complaints --registration-url URL --dir FOLDER \\
        --period-start 2026-10-01 --period-end 2026-11-01
    python -m bdcwatch.demo.feedback checklists --supervision-url URL --dir FOLDER

``complaints`` writes two exports as real systems do: the 12345 platform's CSV in
GB18030 and a 好差评 CSV in UTF-8 with BOM, naming units by DJJG or by name, with one
unit nobody knows (quarantined), one ticket exported twice (updated, not duplicated) and
an ID number in a complaint's text (masked). ``checklists`` takes each unit's latest
monthly sample and writes the checklist the unit was mailed, with about half of its rows
judged (one in four of those 不合格); the demo imports them with ``bdcwatch review import``.
Deterministic: the same data and seed give the same files.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
from sqlalchemy import create_engine, select, text

from bdcwatch.config.policy import load_policy
from bdcwatch.reports.quality import quality_checklist
from bdcwatch.store.models import inspection, inspection_sample

HEADER = ["工单编号", "来源", "受理时间", "被反映单位", "业务号", "内容", "诉求类型"]
COMPLAINTS = [
    ("12345", "窗口要求重复提交已提供的材料，办事群众往返多次", "投诉"),
    ("12345", "抵押登记超过承诺时限仍未办结", "投诉"),
    ("12345", "咨询二手房转移登记需要哪些材料", "咨询"),
    ("信访", "反映有中介人员在大厅内招揽代办并收取费用", "举报"),
    ("好差评", "差评：取号后等候两个多小时", "投诉"),
    ("好差评", "建议增加周末预约办理时段", "建议"),
]


def _cases(registration_url: str, start: date, end: date) -> list[tuple[str, str]]:
    engine = create_engine(registration_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT YWH, DJJG FROM DJT_DJ_SL WHERE SLSJ >= :s AND SLSJ < :e ORDER BY YWH"),
                            {"s": datetime(start.year, start.month, start.day), "e": datetime(end.year, end.month, end.day)})
        found = [(str(r[0]), str(r[1])) for r in rows]
    engine.dispose()
    return found


def write_complaints(registration_url: str, folder: Path, start: date, end: date, seed: int = 31) -> list[Path]:
    """Two complaint exports about cases of [start, end) (module docstring); returns the files."""
    rng = random.Random(seed)
    policy = load_policy()
    cases = _cases(registration_url, start, end)
    picked = rng.sample(cases, min(len(COMPLAINTS), len(cases))) if cases else [("", code) for code in policy.units]
    days = max(1, (end - start).days)
    rows = []
    for index, ((ywh, unit), (source, content, kind)) in enumerate(zip(picked, COMPLAINTS, strict=False), start=1):
        accepted = datetime(start.year, start.month, start.day, 9) + timedelta(days=rng.randrange(days), minutes=index * 7)
        named = policy.units[unit].name if index % 2 and unit in policy.units else unit  # by name or by DJJG
        rows.append([f"GD{start:%Y%m}{index:04d}", source, accepted.strftime("%Y-%m-%d %H:%M:%S"), named, ywh,
                     content, kind])
    rows[0][5] += "（来电人身份证号 140302198803127719）"
    rows.append([f"GD{start:%Y%m}9001", "信访", f"{start:%Y-%m}-15 10:00:00", "阳泉市第九登记所", "",
                 "反映登记人员态度生硬", "投诉"])  # names no unit of the policy: quarantined
    twice = [*rows[1][:5], rows[1][5] + "（二次来电催办）", rows[1][6]]  # the same ticket, exported again
    folder.mkdir(parents=True, exist_ok=True)
    hotline = [r for r in rows if r[1] in ("12345", "信访")]
    rating = [r for r in rows if r[1] == "好差评"] + [twice]
    files = []
    for name, chosen, encoding, bom in ((f"12345_{start:%Y%m}.csv", hotline, "gb18030", b""),
                                        (f"haochaping_{start:%Y%m}.csv", rating, "utf-8", codecs.BOM_UTF8)):
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerows([HEADER, *chosen])
        path = folder / name
        path.write_bytes(bom + buffer.getvalue().encode(encoding))
        files.append(path)
    return files


def fill_checklists(supervision_url: str, folder: Path, seed: int = 32) -> list[Path]:
    """Each unit's latest monthly checklist, about half judged (module docstring)."""
    rng = random.Random(seed)
    engine = create_engine(supervision_url)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    with engine.connect() as conn:
        latest = conn.execute(select(inspection).where(inspection.c.cycle == "monthly_quality_check")
                              .order_by(inspection.c.unit_code, inspection.c.period.desc())).all()
        seen: set[str] = set()
        for insp in latest:
            if insp.unit_code in seen:
                continue
            seen.add(insp.unit_code)
            sample = [(r.ywh, r.djdl) for r in conn.execute(select(inspection_sample.c.ywh, inspection_sample.c.djdl)
                      .where(inspection_sample.c.inspection_id == insp.id).order_by(inspection_sample.c.ywh))]
            if not sample:
                continue
            blank = quality_checklist(sample, insp.unit_code, insp.period)
            book = openpyxl.load_workbook(io.BytesIO(blank.content))
            sheet = book["抽查清单"]
            for number in range(2, 2 + len(sample)):
                if rng.random() < 0.5:
                    continue
                defective = rng.random() < 0.25
                sheet.cell(number, 4).value = "不合格" if defective else "合格"
                sheet.cell(number, 5).value = "申请材料缺少授权委托书，未一次性告知补正" if defective else None
                sheet.cell(number, 6).value = rng.choice(["刘洋", "陈静", "马骏"])
            path = folder / blank.filename
            book.save(path)
            files.append(path)
    engine.dispose()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bdcwatch.demo.feedback", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    complaints = commands.add_parser("complaints")
    complaints.add_argument("--registration-url", required=True)
    complaints.add_argument("--dir", type=Path, required=True)
    complaints.add_argument("--period-start", type=date.fromisoformat, required=True)
    complaints.add_argument("--period-end", type=date.fromisoformat, required=True)
    checklists = commands.add_parser("checklists")
    checklists.add_argument("--supervision-url", required=True)
    checklists.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "complaints":
        files = write_complaints(args.registration_url, args.dir, args.period_start, args.period_end)
    else:
        files = fill_checklists(args.supervision_url, args.dir)
    for path in files:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
