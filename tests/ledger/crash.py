"""SIGKILL a writer process at a random moment (the crash tests of the store and the ledger)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time


def run_then_kill(argv: list[str], rng: random.Random, max_pause: float) -> int:
    """Start `argv`, a writer that prints ``ready <head>`` once it has opened its store and
    then one line ``<head>`` after each write that returned (was acknowledged); SIGKILL it
    after a random pause. Returns the last head it acknowledged (its first head if none)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().split()
        assert first and first[0] == "ready", first
        time.sleep(rng.uniform(0.0, max_pause))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        acknowledged = [int(line) for line in proc.stdout.read().split() if line.isdigit()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return acknowledged[-1] if acknowledged else int(first[1])
