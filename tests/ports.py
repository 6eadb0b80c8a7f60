"""Loopback ports for the servers the tests start.

Asking the kernel for port 0 and closing the socket leaves a window: until the
server binds, the port is back in the ephemeral range, and any outgoing
connection on the machine may be given it as its local port (CI once failed on
exactly that: "address already in use" for a devnet node). So ports here come
from *below* the ephemeral range (``net.ipv4.ip_local_port_range``), which the
kernel never hands out by itself; each one is checked free by binding it, and
no port is handed out twice in one test process.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterable

_LOWEST = 10_000
_taken: set[int] = set()
_lock = threading.Lock()
_rng = random.SystemRandom()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # the Linux default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _claim(ports: Iterable[int]) -> bool:
    """Claim all of ``ports`` if every one is unclaimed, in range and free now."""
    ports = list(ports)
    high = _ephemeral_low()
    if any(p < _LOWEST or p >= high or p in _taken for p in ports):
        return False
    if not all(_bindable(p) for p in ports):
        return False
    _taken.update(ports)
    return True


def free_port() -> int:
    """One free loopback port below the ephemeral range."""
    return free_ports_at([0])


def free_ports_at(offsets: Iterable[int]) -> int:
    """A base port such that ``base + o`` is free for every offset ``o``."""
    offsets = list(offsets)
    high = _ephemeral_low()
    with _lock:
        for _ in range(10_000):
            base = _rng.randrange(_LOWEST, high)
            if _claim(base + o for o in offsets):
                return base
    raise RuntimeError(f"no free loopback ports for offsets {offsets} in {_LOWEST}..{high - 1}")


def devnet_base_port(nodes: int) -> int:
    """A ``--base-port`` for ``nodes`` devnet nodes: API ports base+1.., peer ports base-1000+1.."""
    from client.cli_devnet import PEER_PORT_OFFSET

    offsets = [i for i in range(1, nodes + 1)] + [PEER_PORT_OFFSET + i for i in range(1, nodes + 1)]
    return free_ports_at(offsets)
