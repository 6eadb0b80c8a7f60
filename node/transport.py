"""Authenticated peer links: mutual TLS 1.3 over TCP carrying msgpack frames.

DESIGN.md, Interfaces: "Peer links: TCP with length-prefixed msgpack frames,
mutually authenticated and integrity-protected; only nodes in the registry may
connect". How peers authenticate is in node/peer_tls.py; the frame format is in
node/framing.py. This module is the asyncio part.

Theory of operation
-------------------
Links are one-way by use: a node *dials* every peer it knows and sends its
frames for that peer on that outbound connection; it *accepts* connections
from peers and reads their frames from them. So between two nodes there are
two TCP connections, one per direction, and nobody has to break ties. Frames
arriving on either are delivered the same way.

Sending never blocks. ``send(peer, frame)`` encodes the frame at once (so a
frame that is too large or not encodable raises FrameError in the caller) and
appends it to that peer's bounded queue; when the queue is full the *oldest*
frame is dropped and counted. Raft tolerates lost messages and a newer
heartbeat or append supersedes an older one, so dropping old frames is the
right loss for a link that was down for hours. A writer task per peer empties
the queue into the connection (``write`` per frame, one ``drain`` per batch).

Dialling never gives up. Each peer has a task that connects, handshakes,
checks the peer's identity, and serves the link until it breaks; then it waits
an exponential back-off with jitter (``backoff_initial`` doubling up to
``backoff_max``, each wait drawn uniformly from [delay/2, delay]) and dials
again, forever, until ``stop()`` or the peer is removed. A connection that
lived less than ``stable_after`` seconds counts as a failure for the back-off,
so a peer that accepts and immediately drops us is not hammered.

Every connection is checked against the registry as it is when it is made:
``lookup()`` returns the current ``{node_id: public_key}`` (the registry's
``nodes()``), and the TLS contexts are built from it (cached per snapshot).
When the registry changes, the runtime calls ``revalidate()`` (``update_peers``
does too), which closes links whose peer is no longer registered with the key
it authenticated with; its next connection is refused in the handshake. A
handshake that was already under way when the registry changed is checked
again against the registry as it is when it completes.
In TLS 1.3 the server checks the client's certificate after the client has
finished its half of the handshake, so a refused dialler first sees its link
up and then broken: frames it wrote in between are lost like frames on any
broken link (Raft sends again), and the short-lived link counts as a failure
for the back-off.

Receiving: each frame's length is checked before its body is read, the body
must decode to a map with a str ``kind`` and ``from`` (node/framing.py), and
``from`` must equal the node the handshake authenticated. A frame that fails
any check is dropped and counted, and the link is closed: after a bad frame
the rest of the stream cannot be trusted. Good frames go to
``on_message(peer_id, frame)``, synchronously, in arrival order per link.

Pending handshakes (the peer port faces anyone who can reach it, with no
key). Until its handshake completes, a caller is only a source address; an
idle TCP connection that never sends a ClientHello costs the attacker nothing.
So every inbound handshake is bounded three ways:

- in time: ``handshake_timeout`` (5 s) from accept to authenticated;
- per source address: at most ``max_pending_per_address`` (4) at once; a
  newcomer from an address at its limit displaces that address's *oldest*
  pending handshake, so a flood from one address only ever displaces itself;
- overall: at most ``max_pending_handshakes`` (64). When the table is full a
  newcomer displaces the oldest pending handshake of the *stranger* address
  holding the most; if only known addresses are pending, the newcomer is
  refused (counted).

*Known* addresses are those of registered peers: the IP literals in the peer
map, and every address that has completed a handshake as a registered node
(inbound source or outbound destination), kept while that node is
registered. A stranger never displaces a known address's handshake, so a
flood from addresses other than the nodes' cannot lock a keyed node out,
however many connections it opens or renews (a node's handshake takes
milliseconds). A stranger sharing a node's address (the same host, the same
NAT) competes with that node for the address's own share only; a displaced
handshake is an ordinary failed dial, retried with back-off. Displacements
are counted (``handshakes_displaced``).

Sockets get TCP_NODELAY (Raft messages are small and latency-bound) and TCP
keepalive (a link that died silently, as field links do, is noticed within
about a minute even when we have nothing to send).
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import random
import socket
import ssl
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

from node.errors import FrameError, PeerRejected
from node.framing import DEFAULT_MAX_FRAME_BYTES, HEADER_BYTES, decode_body, encode_frame, read_length
from node.peer_tls import PeerTLS, authenticate_peer

__all__ = ["PeerTransport", "TransportStats", "parse_address"]

log = logging.getLogger("minutebook.transport")

Address = tuple[str, int]
RegistryLookup = Callable[[], Mapping[str, bytes]]
MessageHandler = Callable[[str, dict[str, Any]], None]


def parse_address(address: str | tuple[str, int]) -> Address:
    """``"host:port"`` (``"[::1]:7101"`` for IPv6) or ``(host, port)`` -> ``(host, port)``."""
    if isinstance(address, tuple):
        host, port = address
        return str(host), int(port)
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"peer address {address!r}: expected host:port")
    return host.strip("[]"), int(port)


@dataclass(slots=True)
class TransportStats:
    """Counters since start; read them as attributes or ``as_dict()``."""

    frames_sent: int = 0
    frames_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    frames_dropped_malformed: int = 0  # undecodable, bad shape, or over the size limit
    frames_dropped_spoofed: int = 0  # "from" is not the authenticated peer
    frames_dropped_queue_full: int = 0  # the oldest frame of a full outbound queue
    frames_dropped_unknown_peer: int = 0  # send() to a peer we have no link for
    handshake_rejected: int = 0  # a peer whose certificate or key the registry does not back
    handshake_failed: int = 0  # TLS errors and timeouts that are not a rejection
    connect_failed: int = 0  # TCP connect refused or timed out
    connections_accepted: int = 0  # inbound links authenticated
    connections_refused_busy: int = 0  # inbound TCP dropped: the pending table is full of known addresses
    handshakes_displaced: int = 0  # pending inbound handshakes dropped to make room for a newer caller
    connections_established: int = 0  # outbound links authenticated
    reconnects: int = 0  # outbound links authenticated again after an earlier one ended

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True, eq=False)
class _Pending:
    """One inbound handshake in progress: who (source address), since when, and how to drop it."""

    address: str
    started: float
    writer: asyncio.StreamWriter
    handshake: asyncio.Future | None = None  # the start_tls task, once it runs
    displaced: bool = False

    def drop(self) -> None:
        # Cancel the handshake rather than abort its socket: loop.start_tls cleans up after a
        # cancellation, while an abort under it leaves the StreamWriter without a transport.
        self.displaced = True
        if self.handshake is not None:
            self.handshake.cancel()
        elif not self.writer.transport.is_closing():
            self.writer.transport.abort()


@dataclass(slots=True, eq=False)
class _Connection:
    peer_id: str
    public_key: bytes
    writer: asyncio.StreamWriter
    inbound: bool

    def close(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()


class _OutboundLink:
    """What we keep per peer: its address, its queue, the dialler task, the live connection."""

    def __init__(self, peer_id: str, address: Address, queue_frames: int) -> None:
        self.peer_id = peer_id
        self.address = address
        self.queue: collections.deque[bytes] = collections.deque()
        self.queue_frames = queue_frames
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.connection: _Connection | None = None
        self.established_before = False


class PeerTransport:
    """Peer links for one node. See the module docstring for how it behaves.

    `peers` maps node id -> ``"host:port"`` (or a tuple) for every peer to
    dial; `lookup()` returns the registry's current ``{node_id: public_key}``;
    `on_message(peer_id, frame)` gets every good frame. Call ``await start()``
    and ``await stop()`` on the event loop that will run the links.
    """

    def __init__(
        self,
        node_id: str,
        seed: bytes,
        listen_addr: str | tuple[str, int],
        peers: Mapping[str, str | tuple[str, int]],
        lookup: RegistryLookup,
        on_message: MessageHandler,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        queue_frames: int = 4096,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        stable_after: float = 1.0,
        connect_timeout: float = 5.0,
        handshake_timeout: float = 5.0,
        max_pending_handshakes: int = 64,
        max_pending_per_address: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        if queue_frames < 1:
            raise ValueError("queue_frames must be >= 1")
        self.node_id = node_id
        self.tls = PeerTLS(node_id, seed)
        self.listen_addr = parse_address(listen_addr)
        self.lookup = lookup
        self.on_message = on_message
        self.max_frame_bytes = max_frame_bytes
        self.queue_frames = queue_frames
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.max_pending_handshakes = max_pending_handshakes
        self.max_pending_per_address = max_pending_per_address
        # Invariant: len(_pending) <= max_pending_handshakes, and per address <= max_pending_per_address.
        self._pending: dict[asyncio.Task, _Pending] = {}
        self._authenticated_at: dict[str, set[str]] = {}  # node id -> addresses it authenticated from or at
        self.rng = rng or random.Random()
        self.stats = TransportStats()
        self._peers = {peer_id: parse_address(address) for peer_id, address in peers.items() if peer_id != node_id}
        self._links: dict[str, _OutboundLink] = {}
        self._inbound: dict[str, list[_Connection]] = {}
        self._inbound_tasks: dict[asyncio.Task, asyncio.StreamWriter] = {}
        self._server: asyncio.base_events.Server | None = None
        self._running = False

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen, and start dialling every peer."""
        if self._running:
            raise RuntimeError("transport already started")
        self._running = True
        host, port = self.listen_addr
        self._server = await asyncio.start_server(self._accept, host, port)
        for peer_id, address in sorted(self._peers.items()):
            self._add_link(peer_id, address)

    @property
    def listen_address(self) -> Address:
        """The address actually bound (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            return self.listen_addr
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def stop(self) -> None:
        """Close the listener and every link; queued frames are discarded."""
        if not self._running:
            return
        self._running = False
        if self._server is not None:
            self._server.close()
        tasks = [link.task for link in self._links.values() if link.task is not None]
        for link in self._links.values():
            if link.connection is not None:
                link.connection.close()
        for task in tasks:
            task.cancel()
        # Inbound handlers end on their own once their sockets are aborted;
        # cancelling them would trip Python 3.11's start_server callback,
        # which calls task.exception() on a cancelled task.
        for entry in list(self._pending.values()):
            entry.drop()  # a handshake in progress is cancelled, not aborted under start_tls
        inbound = list(self._inbound_tasks.items())
        for task, writer in inbound:
            if task not in self._pending and writer.transport is not None and not writer.transport.is_closing():
                writer.transport.abort()
        await asyncio.gather(*tasks, return_exceptions=True)
        if inbound:
            _, pending = await asyncio.wait([task for task, _ in inbound], timeout=self.handshake_timeout)
            for task in pending:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        self._links.clear()
        self._inbound.clear()

    # ------------------------------------------------------------------- public

    def send(self, peer_id: str, frame: Mapping[str, Any]) -> bool:
        """Queue `frame` for `peer_id` (``"from"`` is set here); never blocks.

        Returns False if there is no link to that peer (counted). Raises
        FrameError if the frame has no str ``kind``, cannot be encoded or is
        over ``max_frame_bytes``.
        """
        link = self._links.get(peer_id)
        if link is None:
            self.stats.frames_dropped_unknown_peer += 1
            return False
        data = encode_frame({**frame, "from": self.node_id}, max_frame_bytes=self.max_frame_bytes)
        link.queue.append(data)
        while len(link.queue) > link.queue_frames:
            link.queue.popleft()
            self.stats.frames_dropped_queue_full += 1
        link.wake.set()
        return True

    def broadcast(self, frame: Mapping[str, Any]) -> None:
        """``send`` to every peer we dial."""
        data = encode_frame({**frame, "from": self.node_id}, max_frame_bytes=self.max_frame_bytes)
        for link in self._links.values():
            link.queue.append(data)
            while len(link.queue) > link.queue_frames:
                link.queue.popleft()
                self.stats.frames_dropped_queue_full += 1
            link.wake.set()

    def update_peers(self, peers: Mapping[str, str | tuple[str, int]]) -> None:
        """Make the set of dialled peers exactly `peers`, then ``revalidate()``.

        New peers get a link; removed peers lose theirs (queue discarded); a
        peer whose address changed is redialled at the new one.
        """
        wanted = {peer_id: parse_address(address) for peer_id, address in peers.items() if peer_id != self.node_id}
        self._peers = wanted
        if self._running:
            for peer_id in sorted(set(self._links) - set(wanted)):
                self._remove_link(peer_id)
            for peer_id, address in sorted(wanted.items()):
                link = self._links.get(peer_id)
                if link is None:
                    self._add_link(peer_id, address)
                elif link.address != address:
                    link.address = address
                    if link.connection is not None:
                        link.connection.close()
        self.revalidate()

    def revalidate(self) -> None:
        """Close every link whose peer is no longer registered with the key it authenticated with."""
        registry = self.lookup()
        for connection in self._connections():
            if registry.get(connection.peer_id) != connection.public_key:
                log.info("closing link to %s: no longer registered with that key", connection.peer_id)
                connection.close()

    def connected_peers(self) -> dict[str, dict[str, bool]]:
        """``{peer_id: {"outbound": bool, "inbound": bool}}`` for every peer with a live link."""
        status: dict[str, dict[str, bool]] = {}
        for connection in self._connections():
            entry = status.setdefault(connection.peer_id, {"outbound": False, "inbound": False})
            entry["inbound" if connection.inbound else "outbound"] = True
        return status

    def queued(self, peer_id: str) -> int:
        """Frames waiting for `peer_id` (0 if there is no link)."""
        link = self._links.get(peer_id)
        return len(link.queue) if link is not None else 0

    # ----------------------------------------------------------------- outbound

    def _connections(self) -> list[_Connection]:
        connections = [link.connection for link in self._links.values() if link.connection is not None]
        for inbound in self._inbound.values():
            connections.extend(inbound)
        return connections

    def _add_link(self, peer_id: str, address: Address) -> None:
        link = _OutboundLink(peer_id, address, self.queue_frames)
        self._links[peer_id] = link
        link.task = asyncio.get_running_loop().create_task(self._dial_forever(link), name=f"dial {peer_id}")

    def _remove_link(self, peer_id: str) -> None:
        link = self._links.pop(peer_id)
        if link.connection is not None:
            link.connection.close()
        if link.task is not None:
            link.task.cancel()

    def _backoff(self, failures: int) -> float:
        delay = min(self.backoff_max, self.backoff_initial * (2 ** min(failures, 30)))
        return self.rng.uniform(delay / 2, delay)

    async def _dial_forever(self, link: _OutboundLink) -> None:
        failures = 0
        while self._running:
            dialled = await self._dial(link)
            if dialled is None:
                failures += 1
                await asyncio.sleep(self._backoff(failures))
                continue
            if link.established_before:
                self.stats.reconnects += 1
            link.established_before = True
            self.stats.connections_established += 1
            connection, reader = dialled
            link.connection = connection
            started = time.monotonic()
            try:
                await self._serve_outbound(link, connection, reader)
            finally:
                link.connection = None
                connection.close()
            lived = time.monotonic() - started
            failures = 0 if lived >= self.stable_after else failures + 1
            if self._running:
                await asyncio.sleep(self._backoff(failures))

    async def _dial(self, link: _OutboundLink) -> tuple[_Connection, asyncio.StreamReader] | None:
        """One attempt: TCP connect, TLS handshake, pin check. None on any failure (counted)."""
        registry = dict(self.lookup())
        _, client_context = self.tls.contexts(registry)
        host, port = link.address
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host, port, ssl=client_context, ssl_handshake_timeout=self.handshake_timeout
                ),
                timeout=self.connect_timeout + self.handshake_timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            self.stats.handshake_rejected += 1
            log.warning("refused %s at %s:%d: %s", link.peer_id, host, port, exc.verify_message)
            return None
        except ssl.SSLError as exc:
            self.stats.handshake_failed += 1
            log.info("TLS with %s at %s:%d failed: %s", link.peer_id, host, port, exc)
            return None
        except (OSError, asyncio.TimeoutError) as exc:
            self.stats.connect_failed += 1
            log.debug("connect to %s at %s:%d failed: %r", link.peer_id, host, port, exc)
            return None
        try:
            peer_id = authenticate_peer(writer.get_extra_info("ssl_object"), registry, expected=link.peer_id)
            _still_registered(self.lookup(), peer_id, registry[peer_id])
        except PeerRejected as exc:
            self.stats.handshake_rejected += 1
            log.warning("%s", exc)
            writer.transport.abort()
            return None
        _tune_socket(writer)
        peername = writer.get_extra_info("peername")
        if peername:
            self._note_authenticated(peer_id, _address_key(str(peername[0])))
        return _Connection(peer_id, registry[peer_id], writer, inbound=False), reader

    async def _serve_outbound(self, link: _OutboundLink, connection: _Connection, reader: asyncio.StreamReader) -> None:
        """Write queued frames until the link breaks; read (and deliver) anything the peer sends on it."""
        reading = asyncio.get_running_loop().create_task(self._read_frames(connection, reader))
        writing = asyncio.get_running_loop().create_task(self._write_frames(link, connection.writer))
        try:
            await asyncio.wait({reading, writing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, writing):
                task.cancel()
            await asyncio.gather(reading, writing, return_exceptions=True)

    async def _write_frames(self, link: _OutboundLink, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                if not link.queue:
                    link.wake.clear()
                    await link.wake.wait()
                sent_frames = 0
                sent_bytes = 0
                while link.queue:
                    data = link.queue.popleft()
                    writer.write(data)
                    sent_frames += 1
                    sent_bytes += len(data)
                await writer.drain()
                self.stats.frames_sent += sent_frames
                self.stats.bytes_sent += sent_bytes
        except (OSError, ssl.SSLError) as exc:  # ConnectionResetError, BrokenPipeError are OSErrors
            log.info("link to %s broke while writing: %r", link.peer_id, exc)

    # ------------------------------------------------------------------ inbound

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inbound_tasks[task] = writer
        peername = writer.get_extra_info("peername") or ("?", 0)
        label = "%s:%s" % tuple(peername[:2])
        address = _address_key(str(peername[0]))
        connection: _Connection | None = None
        try:
            pending = self._admit(task, address, writer)
            if pending is None:
                self.stats.connections_refused_busy += 1  # only known addresses are pending: they keep their slots
                return
            registry = dict(self.lookup())
            server_context, _ = self.tls.contexts(registry)
            try:
                # The handshake runs as its own task (so displacing it is a clean cancel); until that
                # task starts, no byte may reach the plain reader, or the ClientHello would be lost.
                writer.transport.pause_reading()
                pending.handshake = asyncio.ensure_future(
                    writer.start_tls(server_context, ssl_handshake_timeout=self.handshake_timeout))
                await asyncio.wait({pending.handshake})
                if pending.handshake.cancelled():  # displaced by a newer caller
                    log.debug("inbound handshake from %s displaced by a newer caller", label)
                    return
                pending.handshake.result()  # raises what the handshake raised
                peer_id = authenticate_peer(writer.get_extra_info("ssl_object"), registry, peer_label=label)
                _still_registered(self.lookup(), peer_id, registry[peer_id])
            except (ssl.SSLCertVerificationError, PeerRejected) as exc:
                self.stats.handshake_rejected += 1
                log.warning("refused inbound link from %s: %s", label, exc)
                return
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
                if pending.displaced:
                    log.debug("inbound handshake from %s displaced by a newer caller", label)
                else:
                    self.stats.handshake_failed += 1
                    log.info("inbound TLS from %s failed: %r", label, exc)
                return
            finally:
                self._pending.pop(task, None)
            self._note_authenticated(peer_id, address)
            _tune_socket(writer)
            self.stats.connections_accepted += 1
            connection = _Connection(peer_id, registry[peer_id], writer, inbound=True)
            # A peer keeps one outbound link to us; a new one supersedes any
            # older, possibly half-open, connection from it.
            for older in self._inbound.pop(peer_id, []):
                older.close()
            self._inbound[peer_id] = [connection]
            await self._read_frames(connection, reader)
        finally:
            if connection is not None:
                current = self._inbound.get(connection.peer_id, [])
                if connection in current:
                    current.remove(connection)
                    if not current:
                        del self._inbound[connection.peer_id]
            if not writer.transport.is_closing():
                writer.transport.abort()
            self._inbound_tasks.pop(task, None)

    def _admit(self, task: asyncio.Task, address: str, writer: asyncio.StreamWriter) -> _Pending | None:
        """Make room for a new inbound handshake from `address` (module doc: pending handshakes);
        None if there is none to make."""
        mine = [(entry.started, t) for t, entry in self._pending.items() if entry.address == address]
        if len(mine) >= self.max_pending_per_address:
            self._displace(min(mine, key=lambda item: item[0])[1])
        elif len(self._pending) >= self.max_pending_handshakes:
            victim = self._stranger_victim()
            if victim is None:
                return None
            self._displace(victim)
        entry = self._pending[task] = _Pending(address, time.monotonic(), writer)
        return entry

    def _stranger_victim(self) -> asyncio.Task | None:
        """The oldest pending handshake of the stranger address holding the most, or None."""
        known = self.known_addresses()
        by_address: dict[str, list[tuple[float, asyncio.Task]]] = {}
        for task, entry in self._pending.items():
            if entry.address not in known:
                by_address.setdefault(entry.address, []).append((entry.started, task))
        if not by_address:
            return None
        busiest = max(by_address.values(), key=lambda entries: (len(entries), -min(entries, key=_first)[0]))
        return min(busiest, key=_first)[1]

    def _displace(self, task: asyncio.Task) -> None:
        entry = self._pending.pop(task)
        entry.drop()
        self.stats.handshakes_displaced += 1

    def known_addresses(self) -> set[str]:
        """Source addresses whose handshakes strangers never displace (module doc)."""
        known = {_address_key(host) for host, _ in self._peers.values() if _is_ip(host)}
        registered = self.lookup()
        for node_id, addresses in self._authenticated_at.items():
            if node_id in registered:
                known |= addresses
        return known

    def _note_authenticated(self, node_id: str, address: str) -> None:
        addresses = self._authenticated_at.setdefault(node_id, set())
        if address not in addresses:
            if len(addresses) >= 4:  # a node that moves keeps its latest few addresses
                addresses.pop()
            addresses.add(address)

    # ------------------------------------------------------------------ reading

    async def _read_frames(self, connection: _Connection, reader: asyncio.StreamReader) -> None:
        """Deliver frames from one link until it ends or misbehaves (then it is closed)."""
        peer_id = connection.peer_id
        try:
            while True:
                header = await reader.readexactly(HEADER_BYTES)
                length = read_length(header, max_frame_bytes=self.max_frame_bytes)
                body = await reader.readexactly(length)
                self.stats.bytes_received += HEADER_BYTES + length
                frame = decode_body(body)
                if frame["from"] != peer_id:
                    self.stats.frames_dropped_spoofed += 1
                    log.warning("dropped a frame from %s claiming to be from %r; closing", peer_id, frame["from"])
                    return
                self.stats.frames_received += 1
                try:
                    self.on_message(peer_id, frame)
                except Exception:  # a handler bug must not take the link down with it
                    log.exception("on_message failed for a %r frame from %s", frame["kind"], peer_id)
        except FrameError as exc:
            self.stats.frames_dropped_malformed += 1
            log.warning("dropped a malformed frame from %s (%s); closing", peer_id, exc.reason)
        except (asyncio.IncompleteReadError, OSError, ssl.SSLError) as exc:
            log.info("link with %s closed: %r", peer_id, exc)
        finally:
            connection.close()


def _still_registered(registry: Mapping[str, bytes], peer_id: str, key: bytes) -> None:
    """The registry may have changed while the handshake ran (against the snapshot taken before
    it): a peer removed meanwhile must not slip past ``revalidate()``."""
    if registry.get(peer_id) != key:
        raise PeerRejected(peer_id, "no longer registered with that key (the registry changed during the handshake)")


def _first(item: tuple[float, Any]) -> float:
    return item[0]


def _address_key(host: str) -> str:
    """One spelling per source address (an IPv4-mapped IPv6 address is its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def _tune_socket(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 6)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    except OSError as exc:  # the peer may already be gone
        log.debug("could not tune socket: %r", exc)
