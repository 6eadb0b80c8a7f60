"""Network namespaces for the fault bed: one per node, joined by veth pairs to a bridge.

Layout for run `run` (0..255) with nodes n1..nK::

    netns mbf<run>-hub   bridge br0 (and nothing else: no address, no route out)
      ├── veth p<i>  <->  eth0 in netns mbf<run>-n<i>, address 198.18.<run>.<i>/24
      └── veth uplink <-> mbf<run>h in the root namespace, address 198.18.<run>.254/24

The harness (the test process, the clients, the checker) talks to the nodes'
APIs from the root namespace through ``mbf<run>h``; the nodes talk to each
other through the bridge. Addresses come from 198.18.0.0/15, the block RFC
2544 sets aside for benchmark tests: they exist only inside these namespaces
and the one root link, and nothing routes them further.

Faults are the kernel's own, with no tc or iptables (neither is available):

- ``cut(a, b)``: a blackhole route in a's namespace to b's address, so a's
  packets to b vanish (one-way: b's still reach a, and TCP between them
  stalls both ways, as on a real asymmetric failure). ``partition`` cuts every
  pair across two sides, both ways.
- ``link(a, up=False)``: a's eth0 down: a hears and says nothing, the
  harness included.
- ``heal()``: every blackhole route flushed, every link up.

Everything is created in ``__init__`` and removed by ``close()`` (deleting a
namespace deletes its veth ends; the root-side veth goes with its peer), also
when a test fails; ``sweep(prefix)`` removes what a killed run left behind.
"""

from __future__ import annotations

import subprocess

__all__ = ["NetBed", "available", "sweep"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def available() -> str | None:
    """None if network namespaces can be made here, else why not."""
    import os
    import shutil

    if shutil.which("ip") is None:
        return "iproute2 (the ip command) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = "mbfprobe"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"cannot make a network namespace: {result.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def sweep(prefix: str = "mbf") -> None:
    """Remove namespaces (and so their links) named ``<prefix>*`` and root links of that prefix."""
    listing = _ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(prefix):
            _ip("netns", "del", name, check=False)
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1 and parts[1].strip().split("@")[0].startswith(prefix):
            _ip("link", "del", parts[1].strip().split("@")[0], check=False)


class NetBed:
    def __init__(self, run: int, nodes: list[str]) -> None:
        if not 0 <= run <= 255:
            raise ValueError("run must be 0..255")
        self.run = run
        self.prefix = f"mbf{run}-"
        self.hub = f"{self.prefix}hub"
        self.root_link = f"mbf{run}h"
        self.harness_ip = f"198.18.{run}.254"
        self.ips: dict[str, str] = {}
        self.namespaces: dict[str, str] = {}
        if _ip("netns", "list", check=False).stdout.count(self.prefix):
            raise RuntimeError(f"namespaces {self.prefix}* exist: another run uses network {run} (or a killed one "
                               f"left them; tests.fault.netbed.sweep({self.prefix!r}) removes them)")
        _ip("link", "del", self.root_link, check=False)
        try:
            _ip("netns", "add", self.hub)
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.hub, "link", "set", "br0", "up")
            _ip("link", "add", self.root_link, "type", "veth", "peer", "name", f"mbf{run}u")
            _ip("link", "set", f"mbf{run}u", "netns", self.hub)
            _ip("-n", self.hub, "link", "set", f"mbf{run}u", "name", "uplink")
            _ip("-n", self.hub, "link", "set", "uplink", "master", "br0")
            _ip("-n", self.hub, "link", "set", "uplink", "up")
            _ip("addr", "add", f"{self.harness_ip}/24", "dev", self.root_link)
            _ip("link", "set", self.root_link, "up")
            for node in nodes:
                self.add(node)
        except BaseException:
            self.close()
            raise

    def add(self, node: str) -> str:
        """A namespace for `node` on the bridge; returns its address."""
        index = len(self.ips) + 1
        ns = f"{self.prefix}{node}"
        ip = f"198.18.{self.run}.{index}"
        outer, inner = f"mbf{self.run}p{index}", f"mbf{self.run}e{index}"
        _ip("netns", "add", ns)
        self.namespaces[node] = ns
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", ns)
        _ip("link", "set", outer, "netns", self.hub)
        _ip("-n", ns, "link", "set", inner, "name", "eth0")
        _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "set", outer, "master", "br0")
        _ip("-n", self.hub, "link", "set", outer, "up")
        self.ips[node] = ip
        return ip

    def exec_prefix(self, node: str) -> list[str]:
        """The command prefix that runs a program inside `node`'s namespace."""
        return ["ip", "netns", "exec", self.namespaces[node]]

    # -- faults ------------------------------------------------------------

    def cut(self, a: str, b: str) -> None:
        """a's packets to b are dropped (a blackhole route in a's namespace)."""
        _ip("-n", self.namespaces[a], "route", "replace", "blackhole", f"{self.ips[b]}/32")

    def partition(self, side: set[str]) -> None:
        """Cut every pair with one node in `side` and the other outside, both ways."""
        for a in self.ips:
            for b in self.ips:
                if (a in side) != (b in side):
                    self.cut(a, b)

    def link(self, node: str, *, up: bool) -> None:
        _ip("-n", self.namespaces[node], "link", "set", "eth0", "up" if up else "down")

    def heal(self) -> None:
        for node, ns in self.namespaces.items():
            _ip("-n", ns, "route", "flush", "type", "blackhole", check=False)
            _ip("-n", ns, "link", "set", "eth0", "up", check=False)

    def close(self) -> None:
        """Remove the namespaces; any process still running in one (ours: nothing else runs there)
        is killed first, so an interrupted run leaves nothing behind."""
        import os
        import signal

        for ns in list(self.namespaces.values()):
            for pid in _ip("netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        for ns in list(self.namespaces.values()) + [self.hub]:
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", self.root_link, check=False)
        self.namespaces.clear()
