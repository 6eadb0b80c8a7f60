"""Links a test can cut: a TCP relay per directed peer link of a test cluster.

``Relay(target)`` listens on a free 127.0.0.1 port and relays every connection
to ``target`` byte for byte (TLS passes through untouched, so the nodes still
authenticate each other end to end). ``cut()`` closes every relayed connection
and refuses new ones until ``heal()``: to the nodes it looks like a link that
went down, as a cell's link does in the mountains.

``route_through_relays(cluster)`` rewrites every node's config so that node A
dials node B through its own relay ``relays[(A, B)]``; ``partition(relays,
side)`` cuts every link between `side` and the rest.
"""

from __future__ import annotations

import socket
import threading

from tests.node.cluster import Cluster

__all__ = ["Relay", "route_through_relays", "partition", "heal_all"]


class Relay:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)

    def heal(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self._cut
            if refuse:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2.0)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def route_through_relays(cluster: Cluster) -> dict[tuple[str, str], Relay]:
    """One relay per directed link; every node's config dials its peers through them.
    Call before starting the nodes."""
    relays = {}
    for a in cluster.nodes:
        for b, files in cluster.nodes.items():
            if a != b:
                relays[(a, b)] = Relay(("127.0.0.1", files.peer_port))
    for a, files in cluster.nodes.items():
        text = files.config.read_text(encoding="utf-8")
        for b, other in cluster.nodes.items():
            if a != b:
                text = text.replace(f'peer_addr = "{other.peer_addr}"', f'peer_addr = "{relays[(a, b)].address}"')
        files.config.write_text(text, encoding="utf-8")
    return relays


def partition(relays: dict[tuple[str, str], Relay], side: set[str]) -> None:
    """Cut every link with one end in `side` and the other outside it (both directions)."""
    for (a, b), relay in relays.items():
        if (a in side) != (b in side):
            relay.cut()


def heal_all(relays: dict[tuple[str, str], Relay]) -> None:
    for relay in relays.values():
        relay.heal()
