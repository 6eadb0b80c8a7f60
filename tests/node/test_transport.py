"""node/transport.py over loopback: mutual TLS bound to registry keys, frames, reconnects.

Each test runs its own event loop (``asyncio.run``) with a deadline, uses
ephemeral ports on 127.0.0.1, and stops every transport it started. A
:class:`RawPeer` plays a misbehaving node: it completes the real TLS handshake
with some identity and then writes whatever bytes the test wants, like the
client half of h11's ConnectionPair.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import struct
import time
from typing import Any, Awaitable, Callable

import msgpack
import pytest

from node.errors import FrameError
from node.framing import encode_frame
from node.peer_tls import PeerTLS, public_key_of_seed
from node.transport import PeerTransport

pytestmark = pytest.mark.timeout(60)


def seed_of(name: str) -> bytes:
    return hashlib.sha256(b"test seed " + name.encode()).digest()


def run(coroutine: Awaitable[Any], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition",
                     interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


class Node:
    """A transport plus what it received; `registry` is this node's view, mutable by tests."""

    def __init__(self, node_id: str, registry: dict[str, bytes], *, seed: bytes | None = None, **options: Any) -> None:
        self.node_id = node_id
        self.registry = registry
        self.inbox: list[tuple[str, dict]] = []
        options.setdefault("backoff_initial", 0.02)
        options.setdefault("backoff_max", 0.2)
        options.setdefault("stable_after", 0.0)
        self.options = options
        self.seed = seed or seed_of(node_id)
        self.transport: PeerTransport | None = None

    async def start(self, peers: dict[str, tuple[str, int]], port: int = 0) -> "Node":
        self.transport = PeerTransport(
            self.node_id,
            self.seed,
            ("127.0.0.1", port),
            peers,
            lambda: self.registry,
            lambda peer, frame: self.inbox.append((peer, frame)),
            **self.options,
        )
        await self.transport.start()
        return self

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        return self.transport.listen_address

    @property
    def stats(self):
        assert self.transport is not None
        return self.transport.stats

    def kinds_from(self, peer: str) -> list[str]:
        return [frame["kind"] for sender, frame in self.inbox if sender == peer]

    async def stop(self) -> None:
        if self.transport is not None:
            await self.transport.stop()


def registry_of(*names: str) -> dict[str, bytes]:
    return {name: public_key_of_seed(seed_of(name)) for name in names}


async def reserve_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def start_mesh(names: list[str], registry: dict[str, bytes] | None = None) -> dict[str, Node]:
    """Start one node per name, each dialling all the others (ports reserved first)."""
    registry = registry if registry is not None else registry_of(*names)
    ports = {name: await reserve_port() for name in names}
    addresses = {name: ("127.0.0.1", port) for name, port in ports.items()}
    nodes = {name: Node(name, dict(registry)) for name in names}
    for name, node in nodes.items():
        await node.start({peer: addr for peer, addr in addresses.items() if peer != name}, ports[name])
    return nodes


async def stop_all(nodes) -> None:
    for node in nodes:
        await node.stop()


class RawPeer:
    """A TLS client holding `seed` and calling itself `node_id`, which then writes raw bytes."""

    def __init__(self, node_id: str, seed: bytes, server_registry_view: dict[str, bytes]) -> None:
        self.tls = PeerTLS(node_id, seed)
        self.view = server_registry_view
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, address: tuple[str, int]) -> None:
        _, client_context = self.tls.contexts(self.view)
        self.reader, self.writer = await asyncio.open_connection(*address, ssl=client_context)

    async def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """True once the other side closes the link (EOF or reset)."""
        assert self.reader is not None
        try:
            data = await asyncio.wait_for(self.reader.read(1), timeout)
            return data == b""
        except (ConnectionError, ssl.SSLError):
            return True
        except asyncio.TimeoutError:
            return False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


def frame_bytes(frame: dict) -> bytes:
    return encode_frame(frame)


# --------------------------------------------------------------------------- tests


def test_two_nodes_exchange_frames_both_ways():
    async def scenario():
        nodes = await start_mesh(["n1", "n2"])
        n1, n2 = nodes["n1"], nodes["n2"]
        try:
            for i in range(20):
                assert n1.transport.send("n2", {"kind": "raft", "payload": {"i": i, "data": b"\x00\xff"}})
                assert n2.transport.send("n1", {"kind": "block_sig", "height": i, "sig": bytes(64)})
            await eventually(lambda: len(n2.inbox) == 20 and len(n1.inbox) == 20, what="40 frames")
            assert [frame["payload"]["i"] for _, frame in n2.inbox] == list(range(20))  # in order
            sender, frame = n2.inbox[0]
            assert sender == "n1" and frame == {"kind": "raft", "payload": {"i": 0, "data": b"\x00\xff"}, "from": "n1"}
            assert [frame["height"] for _, frame in n1.inbox] == list(range(20))
            assert n1.stats.frames_sent == 20 and n1.stats.frames_received == 20
            assert n1.stats.bytes_sent > 0 and n1.stats.bytes_sent == n2.stats.bytes_received
            assert n1.stats.handshake_rejected == 0 and n1.stats.frames_dropped_malformed == 0
            assert n1.transport.connected_peers() == {"n2": {"outbound": True, "inbound": True}}
        finally:
            await stop_all(nodes.values())

    run(scenario())


def test_three_nodes_full_mesh():
    async def scenario():
        names = ["n1", "n2", "n3"]
        nodes = await start_mesh(names)
        try:
            for sender in names:
                nodes[sender].transport.broadcast({"kind": "hello", "payload": sender})
            await eventually(lambda: all(len(node.inbox) == 2 for node in nodes.values()), what="mesh delivery")
            for name, node in nodes.items():
                assert sorted(peer for peer, _ in node.inbox) == sorted(set(names) - {name})
                assert all(frame["payload"] == peer for peer, frame in node.inbox)
        finally:
            await stop_all(nodes.values())

    run(scenario())


def test_unregistered_key_is_refused_and_delivers_nothing():
    async def scenario():
        n1 = await Node("n1", registry_of("n1", "n2")).start({})
        # The intruder trusts n1 (so its own side of the handshake is happy) but n1 does not know it.
        intruder = Node("x9", {"n1": public_key_of_seed(seed_of("n1")), "x9": public_key_of_seed(seed_of("x9"))})
        await intruder.start({"n1": n1.address})
        try:
            for i in range(5):
                intruder.transport.send("n1", {"kind": "raft", "payload": i})
            await eventually(lambda: n1.stats.handshake_rejected >= 2, what="repeated refusals")
            assert n1.inbox == []
            assert n1.stats.connections_accepted == 0 and n1.stats.frames_received == 0
        finally:
            await stop_all([intruder, n1])

    run(scenario())


def test_registered_name_with_another_key_is_refused():
    """A node calling itself n2 but holding a different key cannot pass as n2."""

    async def scenario():
        n1 = await Node("n1", registry_of("n1", "n2")).start({})
        impostor = Node("n2", registry_of("n1", "n2"), seed=seed_of("not n2"))
        await impostor.start({"n1": n1.address})
        try:
            impostor.transport.send("n1", {"kind": "raft", "payload": "forged"})
            await eventually(lambda: n1.stats.handshake_rejected >= 2, what="refusals")
            assert n1.inbox == [] and n1.stats.connections_accepted == 0
        finally:
            await stop_all([impostor, n1])

    run(scenario())


def test_dialler_refuses_a_listener_that_is_not_the_registered_peer():
    """The pin check works both ways: n1 dials n2's address, but a node with another key answers."""

    async def scenario():
        squatter = await Node("n2", registry_of("n1", "n2"), seed=seed_of("squatter")).start({})
        n1 = await Node("n1", registry_of("n1", "n2")).start({"n2": squatter.address})
        try:
            n1.transport.send("n2", {"kind": "raft", "payload": "secret"})
            await eventually(lambda: n1.stats.handshake_rejected >= 2, what="refusals by the dialler")
            assert squatter.inbox == [] and n1.stats.connections_established == 0
        finally:
            await stop_all([n1, squatter])

    run(scenario())


def forged_certificate(*, names: str, key_seed: bytes, signer_seed: bytes, issuer_of: str):
    """A certificate naming `names`, carrying key_seed's public key, signed by signer_seed as `issuer_of`'s key."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.x509.oid import NameOID

    def name(organisation: str, common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                          x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    return (
        x509.CertificateBuilder()
        .subject_name(name("minutebook node", names))
        .issuer_name(name("minutebook node key", issuer_of))
        .public_key(Ed25519PrivateKey.from_private_bytes(key_seed).public_key())
        .serial_number(7)
        .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(9999, 1, 1, tzinfo=datetime.timezone.utc))
        .sign(Ed25519PrivateKey.from_private_bytes(signer_seed), None)
    )


@pytest.mark.parametrize(
    "forgery",
    [
        # Registered n3 vouches for a certificate that names n2: the chain verifies (n3's anchor),
        # the pin check refuses it (the key is n3's, the name is n2).
        dict(names="n2", key_seed=seed_of("n3"), signer_seed=seed_of("n3"), issuer_of="n3"),
        # Registered n3 vouches for a key nobody registered: the chain verifies, the pin check refuses.
        dict(names="n3", key_seed=seed_of("stray"), signer_seed=seed_of("n3"), issuer_of="n3"),
    ],
    ids=["registered-node-names-another", "registered-node-certifies-a-stray-key"],
)
def test_pin_check_refuses_what_chain_validation_alone_would_accept(forgery):
    async def scenario():
        registry = registry_of("n1", "n2", "n3")
        n1 = await Node("n1", dict(registry)).start({})
        raw = RawPeer(forgery["names"], forgery["key_seed"], registry)
        raw.tls.certificate = forged_certificate(**forgery)
        try:
            try:
                await raw.connect(n1.address)
                await raw.send_raw(frame_bytes({"kind": "raft", "from": forgery["names"]}))
                assert await raw.closed_by_peer()
            except (ConnectionError, ssl.SSLError):
                pass
            await eventually(lambda: n1.stats.handshake_rejected == 1, what="refusal")
            assert n1.inbox == [] and n1.stats.connections_accepted == 0
        finally:
            raw.close()
            await n1.stop()

    run(scenario())


def test_frame_claiming_another_sender_is_dropped():
    async def scenario():
        registry = registry_of("n1", "n2", "n3")
        n1 = await Node("n1", dict(registry)).start({})
        raw = RawPeer("n2", seed_of("n2"), registry)
        try:
            await raw.connect(n1.address)
            await raw.send_raw(frame_bytes({"kind": "ok", "from": "n2"}) + frame_bytes({"kind": "raft", "from": "n3"}))
            assert await raw.closed_by_peer()
            assert n1.inbox == [("n2", {"kind": "ok", "from": "n2"})]
            assert n1.stats.frames_dropped_spoofed == 1 and n1.stats.frames_received == 1
        finally:
            raw.close()
            await n1.stop()

    run(scenario())


@pytest.mark.parametrize(
    "garbage, why",
    [
        (struct.pack(">I", 3) + b"\xc1\xc1\xc1", "0xc1 is never used in msgpack"),
        (struct.pack(">I", 2) + b"\x01\x02", "two objects, not one map"),
        (struct.pack(">I", 1) + b"\x01", "not a map"),
        (struct.pack(">I", 3) + msgpack.packb({"a": 1}), "a map without kind and from"),
        (struct.pack(">I", 0), "empty body"),
        (struct.pack(">I", 1024 * 1024 + 1), "over the size limit (no body needed)"),
        (struct.pack(">I", 0xFFFFFFFF), "4 GiB announced"),
    ],
)
def test_malformed_frames_are_dropped_counted_and_the_node_keeps_running(garbage, why):
    async def scenario():
        registry = registry_of("n1", "n2")
        n1 = await Node("n1", dict(registry), max_frame_bytes=1024 * 1024).start({})
        raw = RawPeer("n2", seed_of("n2"), registry)
        try:
            await raw.connect(n1.address)
            await raw.send_raw(frame_bytes({"kind": "before", "from": "n2"}) + garbage)
            assert await raw.closed_by_peer(), why
            assert n1.stats.frames_dropped_malformed == 1, why
            assert n1.inbox == [("n2", {"kind": "before", "from": "n2"})]
            # The node still serves the same peer over a new link.
            n2 = await Node("n2", dict(registry)).start({"n1": n1.address})
            try:
                n2.transport.send("n1", {"kind": "after"})
                await eventually(lambda: len(n1.inbox) == 2, what="delivery after garbage")
                assert n1.inbox[1] == ("n2", {"kind": "after", "from": "n2"})
            finally:
                await n2.stop()
        finally:
            raw.close()
            await n1.stop()

    run(scenario())


def test_plaintext_and_garbage_before_tls_are_refused():
    async def scenario():
        n1 = await Node("n1", registry_of("n1", "n2")).start({})
        try:
            reader, writer = await asyncio.open_connection(*n1.address)
            writer.write(frame_bytes({"kind": "raft", "from": "n2"}) + b"GET / HTTP/1.1\r\n\r\n")
            await writer.drain()
            assert await reader.read() == b""  # closed without TLS
            writer.close()
            await eventually(lambda: n1.stats.handshake_failed == 1, what="counted failure")
            assert n1.inbox == []
        finally:
            await n1.stop()

    run(scenario())


def test_reconnects_after_the_listener_restarts_and_delivers_what_was_queued():
    async def scenario():
        nodes = await start_mesh(["n1", "n2"])
        n1, n2 = nodes["n1"], nodes["n2"]
        port = n2.address[1]
        try:
            n1.transport.send("n2", {"kind": "one"})
            await eventually(lambda: n2.kinds_from("n1") == ["one"], what="first frame")
            await n2.stop()
            await eventually(lambda: not n1.transport.connected_peers().get("n2", {}).get("outbound"), what="link down")
            n1.transport.send("n2", {"kind": "while-down"})
            await asyncio.sleep(0.3)  # several failed dials with back-off
            assert n1.stats.connect_failed >= 1
            n2 = nodes["n2"] = Node("n2", registry_of("n1", "n2"))
            await n2.start({"n1": n1.address}, port)
            n1.transport.send("n2", {"kind": "two"})
            await eventually(lambda: n2.kinds_from("n1") == ["while-down", "two"], what="frames after restart")
            assert n1.stats.reconnects >= 1
            n2.transport.send("n1", {"kind": "back"})
            await eventually(lambda: "back" in n1.kinds_from("n2"), what="reverse direction")
        finally:
            await stop_all(nodes.values())

    run(scenario())


def test_peer_removed_from_registry_is_refused_on_its_next_connection():
    async def scenario():
        nodes = await start_mesh(["n1", "n2"])
        n1, n2 = nodes["n1"], nodes["n2"]
        try:
            n2.transport.send("n1", {"kind": "before"})
            await eventually(lambda: n1.kinds_from("n2") == ["before"], what="frame while registered")
            rejected = n1.stats.handshake_rejected
            del n1.registry["n2"]
            n1.transport.revalidate()  # the runtime calls this when the registry changes
            await eventually(lambda: n1.stats.handshake_rejected > rejected, what="n2 refused when it redials")
            n2.transport.send("n1", {"kind": "after-removal"})
            await asyncio.sleep(0.3)
            assert n1.kinds_from("n2") == ["before"]
            assert "n2" not in n1.transport.connected_peers()
            # Registered again, it gets back in. n2 keeps sending, as Raft does: a frame it wrote
            # on a link n1 was still refusing (TLS 1.3 refuses the client after its side is done)
            # is lost with that link.
            n1.registry["n2"] = public_key_of_seed(seed_of("n2"))

            def readmitted() -> bool:
                n2.transport.send("n1", {"kind": "readmitted"})
                return "readmitted" in n1.kinds_from("n2")

            await eventually(readmitted, what="readmission", interval=0.1)
        finally:
            await stop_all(nodes.values())

    run(scenario())


def test_full_queue_drops_the_oldest_frames():
    async def scenario():
        port = await reserve_port()
        n1 = await Node("n1", registry_of("n1", "n2"), queue_frames=3).start({"n2": ("127.0.0.1", port)})
        try:
            for i in range(5):
                assert n1.transport.send("n2", {"kind": "raft", "payload": i})
            assert n1.stats.frames_dropped_queue_full == 2 and n1.transport.queued("n2") == 3
            n2 = await Node("n2", registry_of("n1", "n2")).start({}, port)
            try:
                await eventually(lambda: len(n2.inbox) == 3, what="queued frames")
                assert [frame["payload"] for _, frame in n2.inbox] == [2, 3, 4]
            finally:
                await n2.stop()
        finally:
            await n1.stop()

    run(scenario())


def test_send_checks_the_frame_and_the_peer():
    async def scenario():
        n1 = await Node("n1", registry_of("n1"), max_frame_bytes=1000).start({"n2": ("127.0.0.1", 9)})
        try:
            assert n1.transport.send("nobody", {"kind": "raft"}) is False
            assert n1.stats.frames_dropped_unknown_peer == 1
            with pytest.raises(FrameError):
                n1.transport.send("n2", {"kind": "raft", "payload": bytes(2000)})
            with pytest.raises(FrameError):
                n1.transport.send("n2", {"payload": 1})
            with pytest.raises(FrameError):
                n1.transport.send("n2", {"kind": "raft", "payload": object()})
            assert n1.transport.queued("n2") == 0
        finally:
            await n1.stop()

    run(scenario())


def test_update_peers_adds_and_removes_links():
    async def scenario():
        registry = registry_of("n1", "n2", "n3")
        n2 = await Node("n2", dict(registry)).start({})
        n3 = await Node("n3", dict(registry)).start({})
        n1 = await Node("n1", dict(registry)).start({"n2": n2.address})
        try:
            n1.transport.update_peers({"n3": n3.address})
            assert n1.transport.send("n2", {"kind": "x"}) is False
            assert n1.transport.send("n3", {"kind": "x"})
            await eventually(lambda: n3.kinds_from("n1") == ["x"], what="delivery to the new peer")
        finally:
            await stop_all([n1, n2, n3])

    run(scenario())


def test_stop_leaves_no_tasks_behind():
    async def scenario():
        nodes = await start_mesh(["n1", "n2"])
        nodes["n1"].transport.send("n2", {"kind": "x"})
        await eventually(lambda: len(nodes["n2"].inbox) == 1)
        await stop_all(nodes.values())
        await asyncio.sleep(0.05)
        ours = asyncio.current_task()
        leftover = [t for t in asyncio.all_tasks() if t is not ours and "wait_for" not in repr(t.get_coro())]
        assert leftover == []

    run(scenario())


def test_node_key_matches_pynacl_and_the_certificate_carries_it():
    """The registry holds pynacl public keys; our certificate must carry the very same key and name."""
    import nacl.signing

    from node.peer_tls import certificate_public_key, node_certificate
    from cryptography.hazmat.primitives import serialization

    seed = seed_of("n1")
    assert public_key_of_seed(seed) == bytes(nacl.signing.SigningKey(seed).verify_key)
    der = node_certificate("n1", seed).public_bytes(serialization.Encoding.DER)
    assert certificate_public_key(der) == (public_key_of_seed(seed), "n1")


def test_silent_callers_cannot_pile_up_pending_handshakes():
    async def scenario():
        n1 = await Node("n1", registry_of("n1", "n2"), max_pending_handshakes=2, handshake_timeout=0.5).start({})
        silent = []
        try:
            for _ in range(4):
                silent.append(await asyncio.open_connection(*n1.address))  # TCP only, never says hello
            await eventually(lambda: n1.stats.handshakes_displaced == 2, what="older callers displaced")
            await eventually(lambda: n1.stats.handshake_failed == 2, what="handshake timeouts")
            assert len(n1.transport._pending) == 0
            n2 = await Node("n2", registry_of("n1", "n2")).start({"n1": n1.address})
            try:
                n2.transport.send("n1", {"kind": "still-served"})
                await eventually(lambda: n1.kinds_from("n2") == ["still-served"], what="service after the flood")
            finally:
                await n2.stop()
        finally:
            for _, writer in silent:
                writer.close()
            await n1.stop()

    run(scenario())


class IdleFlood:
    """`count` TCP connections to `address` that never send a byte, from the loopback addresses
    127.0.0.2 .. 127.0.0.(1 + sources), each renewed at once when the node drops it (the outside
    review's attack: idle connections, renewed as they time out)."""

    def __init__(self, address: tuple[str, int], count: int, sources: int) -> None:
        self.address = address
        self.count = count
        self.sources = sources
        self.opened = 0
        self._tasks: list[asyncio.Task] = []

    async def _hold(self, i: int) -> None:
        source = f"127.0.0.{2 + i % self.sources}"
        while True:
            try:
                reader, writer = await asyncio.open_connection(*self.address, local_addr=(source, 0))
            except OSError:
                await asyncio.sleep(0.01)
                continue
            self.opened += 1
            try:
                await reader.read()  # until the node drops us
            except OSError:
                pass
            finally:
                writer.transport.abort()

    def start(self) -> None:
        self._tasks = [asyncio.get_running_loop().create_task(self._hold(i)) for i in range(self.count)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def test_an_idle_flood_from_strangers_never_locks_a_keyed_node_out():
    """Issue: ~80 idle connections renewed as they time out filled the 64 pending slots and a keyed
    node was refused 23 times of 23; a restarted node could not rejoin during the flood. Here 200
    idle connections from 40 addresses stay pending against n1's default limits; n2 (a registered
    node) connects and delivers, then restarts and rejoins, while the flood goes on."""

    async def scenario():
        ports = {name: await reserve_port() for name in ("n1", "n2")}
        addresses = {name: ("127.0.0.1", port) for name, port in ports.items()}
        registry = registry_of("n1", "n2")
        n1 = await Node("n1", dict(registry), backoff_max=0.2).start({"n2": addresses["n2"]}, ports["n1"])
        flood = IdleFlood(addresses["n1"], count=200, sources=40)
        flood.start()
        n2 = None
        try:
            await eventually(lambda: flood.opened >= 200, timeout=20, what="200 idle connections open")
            await asyncio.sleep(0.5)
            for life in range(2):  # first join, then a restart of n2 during the flood
                n2 = await Node("n2", dict(registry), backoff_max=0.2).start({"n1": addresses["n1"]}, ports["n2"])
                n2.transport.send("n1", {"kind": f"hello-{life}"})
                await eventually(lambda: f"hello-{life}" in n1.kinds_from("n2"), timeout=10,
                                 what=f"n2's frame through the flood (life {life})")
                n1.transport.send("n2", {"kind": f"back-{life}"})
                await eventually(lambda: f"back-{life}" in n2.kinds_from("n1"), timeout=10,
                                 what=f"n1's frame to n2 (life {life})")
                await n2.stop()
                n2 = None
            assert n1.stats.connections_refused_busy == 0
            assert n1.stats.handshakes_displaced > 0  # the flood displaced itself, never the keyed node
        finally:
            await flood.stop()
            if n2 is not None:
                await n2.stop()
            await n1.stop()

    run(scenario(), timeout=60)
