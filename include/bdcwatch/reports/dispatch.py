"""Where a composed message goes, and what happens when composing one fails.

``queue`` is the one path from a report to the outbox: the message is queued (with what
must change in the same transaction, e.g. the findings it announces) unless its dedup key
was queued before. In a dry run it is written as files instead (``DryRunMail``) and
nothing is changed: the operator opens the .eml exactly as it would be sent.

``isolated`` and ``attempt`` keep one bad report or one bad recipient's digest from
stopping the others (issue 10 item 5): the failure is logged with its trace and reported
to operations (``ops_notice.compose_failure``, once per distinct error), the findings it
would have announced stay unannounced (its transaction never ran), so the next run tries
that one again while everything else has gone out. Only an unreachable database stops the
task (Airflow retries it).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.exc import InterfaceError, OperationalError

from bdcwatch.config.run import Job
from bdcwatch.mail.mime import as_bytes, build_message
from bdcwatch.mail.outbox import OutgoingMessage, enqueue
from bdcwatch.store.models import outbox

log = logging.getLogger(__name__)

T = TypeVar("T")
Compose = TypeVar("Compose", bound=Callable[..., list[int]])


def queue(job: Job, message: OutgoingMessage, then: Callable[[Connection, int], None] | None = None) -> int | None:
    """Queue ``message`` (and run ``then(conn, outbox_id)`` in the same transaction); None
    when its key was queued before. A dry run writes it to files and returns None."""
    if job.dry_run:
        DryRunMail(job).keep(message)
        return None
    with job.engine.begin() as conn:
        outbox_id = enqueue(conn, message, job.ctx.now)
        if outbox_id is not None and then is not None:
            then(conn, outbox_id)
    return outbox_id


class DryRunMail:
    """A dry run's mail as files in ``job.dry_run_dir`` (the run's log folder):
    ``NN-kind-unit.eml`` (the whole message as it would be sent, attachments included),
    ``NN-kind-unit.html`` (its HTML part) and ``index.tsv`` (one line per message, with
    those a real run would not send because their key was queued before)."""

    def __init__(self, job: Job) -> None:
        if job.dry_run_dir is None:
            raise RuntimeError("a dry run needs the folder its mail is written to (Job.dry_run_dir)")
        self.job, self.folder = job, Path(job.dry_run_dir)

    def keep(self, message: OutgoingMessage) -> Path | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        index = self.folder / "index.tsv"
        number = sum(1 for _ in index.open(encoding="utf-8")) if index.exists() else 0
        with self.job.engine.connect() as conn:
            earlier = conn.execute(select(outbox.c.id).where(outbox.c.dedup_key == message.dedup_key)).scalar()
        name = f"{number + 1:03d}-{message.kind}-{re.sub(r'[^A-Za-z0-9_-]', '_', message.unit_code or 'all')}"
        line = [name, message.kind, message.unit_code or "", ", ".join(message.recipients), message.subject]
        if earlier is not None:
            line.append(f"not sent by a real run: queued before as outbox {earlier}")
            path = None
        else:
            built = build_message(sender=self.job.mail_from, to=message.recipients, subject=message.subject,
                                  html=message.html, attachments=message.attachments)
            built["X-Bdcwatch-Dry-Run"] = f"{self.job.ctx.dag_id} {self.job.ctx.run_id}: not sent"
            path = self.folder / f"{name}.eml"
            path.write_bytes(as_bytes(built))
            (self.folder / f"{name}.html").write_text(message.html, encoding="utf-8")
            line.append(path.name)
        with index.open("a", encoding="utf-8") as handle:
            handle.write("\t".join(part.replace("\t", " ").replace("\n", " ") for part in line) + "\n")
        log.warning("dry run: %s to %s NOT sent; %s", message.subject, ", ".join(message.recipients),
                    f"written to {path}" if path else line[-1])
        return path


def _report(job: Job, what: str, error: Exception) -> None:
    from bdcwatch.reports import ops_notice

    log.exception("composing %s failed; the other mail of this run goes out, operations are told", what)
    try:
        ops_notice.compose_failure(job, what, error)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        log.exception("the notice to operations about %s could not be composed either", what)


def isolated(what: str) -> Callable[[Compose], Compose]:
    """A report's ``compose(job, …)``: a failure is reported and yields no message (see the
    module docstring) instead of failing the task and every report after it."""

    def decorate(compose: Compose) -> Compose:
        @functools.wraps(compose)
        def wrapper(job: Job, *args: Any, **kwargs: Any) -> list[int]:
            try:
                return compose(job, *args, **kwargs)
            except (OperationalError, InterfaceError):
                raise  # the database is unreachable: a retry of the task may help
            except Exception as error:
                _report(job, what, error)
                return []

        return wrapper  # type: ignore[return-value]

    return decorate


def attempt(job: Job, what: str, step: Callable[[], T]) -> T | None:
    """``step()`` for one recipient's message; None (reported) when it fails."""
    try:
        return step()
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        _report(job, what, error)
        return None
