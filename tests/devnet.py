"""A real devnet for tests: `minutebook devnet up` as a child process.

``start(directory, base_port, nodes)`` starts it (with ``sigint_ignored`` it
inherits SIGINT ignored, as a shell script's ``devnet up &`` does);
``wait_running(proc)`` reads its output up to the "devnet is running" banner
(the sample organisation loaded); ``down(proc)`` stops it with Ctrl-C and
requires exit 0; ``stop_hard(proc)`` is for failures: SIGTERM, then SIGKILL,
so that no process outlives the test.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

BANNER_END = "Ctrl-C stops the cluster"


def start(directory: Path, base_port: int, nodes: int | str = 3, *, sigint_ignored: bool = False) -> subprocess.Popen:
    command = [sys.executable, "-m", "client.cli", "devnet", "up", "--nodes", str(nodes), "--dir", str(directory),
               "--base-port", str(base_port)]
    if sigint_ignored:
        command = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def wait_running(proc: subprocess.Popen, timeout: float = 420) -> str:
    """Output up to the "devnet is running" banner; stops the devnet and fails if it does not come up."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        if BANNER_END in line:
            return "".join(lines)
    stop_hard(proc)
    raise AssertionError("devnet did not come up:\n" + "".join(lines))


def stop_hard(proc: subprocess.Popen) -> None:
    """SIGTERM (the supervisor then stops its nodes), SIGKILL if that is not enough."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def down(proc: subprocess.Popen) -> None:
    """Ctrl-C, as a user stops it: exit 0 within 30 s."""
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        stop_hard(proc)
        raise AssertionError("devnet up did not stop within 30 s of SIGINT") from None
    assert code == 0
