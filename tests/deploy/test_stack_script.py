"""scripts/stack.sh as an operator meets it, without starting the stack: a stale pid file
(after a reboot its number names another process) is left alone, a port another program
holds stops the start at once naming it, and nothing is left half-started."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack.sh"


def run(action: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(STACK), action], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "STACK_HOME": str(home), **env})


def test_stop_leaves_a_process_that_is_not_the_stacks_alone(tmp_path):
    """The pid files of a stack stopped by a reboot: their numbers now name other programs
    (here a sleep in its own process group, as the machine's PostgreSQL would be, started
    after the file was written). stop killed them and said "stack stopped"."""
    (tmp_path / "run").mkdir()
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        pidfile = tmp_path / "run" / "scheduler.pid"
        pidfile.write_text(str(stranger.pid))
        written = pidfile.stat().st_mtime - 3600  # written before the reboot, an hour before the process
        os.utime(pidfile, (written, written))
        done = run("stop", tmp_path)
        assert done.returncode == 0, done.stderr
        assert stranger.poll() is None, "stop killed a process the stack did not start"
        assert f"process {stranger.pid} is not this stack's" in done.stdout
        assert not (tmp_path / "run" / "scheduler.pid").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_taken_port_stops_the_start_at_once_naming_it(tmp_path):
    """The api-server died on a taken port while the script waited three minutes and left
    the other processes running; now nothing starts and the port is named."""
    with socket.socket() as holder, socket.socket() as smtp:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        smtp.bind(("127.0.0.1", 0))  # a free port for the mail catcher, kept unused
        port, smtp_port = holder.getsockname()[1], smtp.getsockname()[1]
        smtp.close()
        done = run("start", tmp_path, STACK_API_PORT=str(port), STACK_SMTP_PORT=str(smtp_port),
                   STACK_DB_PREFIX="stack_port_test")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"port(s) {port} are taken" in done.stdout and "STACK_API_PORT" in done.stdout
    assert not list(tmp_path.glob("run/*.pid")), "a process was started"
