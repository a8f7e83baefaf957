"""The demo's local SMTP sink: every message received is written to a
folder as an .eml file (open it in any mail client or a browser).

    python -m bdcwatch.demo.mailsink --dir var/mail --port 8025
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FolderHandler:
    """aiosmtpd handler: one .eml per message and recipient list, named by time and subject."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        self.count += 1
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        subject = str(message.get("Subject", "no-subject"))
        slug = re.sub(r"[^\w\u4e00-\u9fff-]+", "_", subject)[:60]
        # UTC in the name: the files sort by arrival whatever the machine's zone.
        name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}Z-{self.count:04d}-{slug}.eml"
        header = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        (self.folder / name).write_bytes(header + (envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


def start(folder: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    controller = Controller(FolderHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    controller = start(args.dir, args.host, args.port)
    print(f"SMTP sink on {args.host}:{args.port}, writing to {args.dir.resolve()}", flush=True)
    try:
        asyncio.run(_forever())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


async def _forever() -> None:
    while True:
        await asyncio.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())
