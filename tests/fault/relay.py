"""A node's inbound peer port, through a relay that can make its links slow or lossy.

``python -m tests.fault.relay --listen 198.18.0.1:7101 --target 127.0.0.1:7100 --control FILE``
runs inside a node's namespace, in front of its peer port (which listens on
the namespace's loopback only). Every peer connection to the node passes it,
byte for byte (TLS is end to end; the relay sees ciphertext).

There is no tc netem here (its kernel module is missing), so slowness and loss
are made in user space, per *source address*: ``FILE`` holds JSON
``{"<source ip>" | "*": {"delay_ms": D, "loss": p}}``, re-read when it changes.
A link from a source with ``delay_ms`` has every chunk held back that long in
both directions (in order); with ``loss`` p, each chunk is held up a further
200-1500 ms with probability p (what a lost segment costs a TCP stream: its
retransmission timeout) and the connection is reset with probability p/50
(a link that drops for good). A node's link is made slow by writing its entry
in every other node's relay file and everyone's ``"*"`` entry in its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import time

__all__ = ["main", "LinkControl"]


class LinkControl:
    """The control file, re-read at most every 100 ms."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._rules: dict = {}
        self._stamp = None
        self._checked = 0.0

    def rule(self, source: str) -> tuple[float, float]:
        now = time.monotonic()
        if now - self._checked > 0.1:
            self._checked = now
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp != self._stamp:
                    with open(self.path, encoding="utf-8") as f:
                        self._rules = json.load(f)
                    self._stamp = stamp
            except (OSError, ValueError):
                self._rules, self._stamp = {}, None
        entry = self._rules.get(source) or self._rules.get("*") or {}
        return float(entry.get("delay_ms", 0)) / 1000.0, float(entry.get("loss", 0.0))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str, control: LinkControl,
                rng: random.Random) -> None:
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver() -> None:
        while True:
            release, data = await queue.get()
            if data is None:
                return
            wait = release - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    delivering = asyncio.get_running_loop().create_task(deliver())
    release = 0.0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            delay, loss = control.rule(source)
            if loss and rng.random() < loss / 50:
                raise ConnectionResetError("relay: link dropped")
            if loss and rng.random() < loss:
                delay += rng.uniform(0.2, 1.5)
            release = max(release, time.monotonic() + delay)  # in order, as TCP delivers
            queue.put_nowait((release, data))
        queue.put_nowait((release, None))
        await delivering
    finally:
        delivering.cancel()
        writer.transport.abort()


async def _serve(listen: tuple[str, int], target: tuple[str, int], control: LinkControl) -> None:
    rng = random.Random()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = writer.get_extra_info("peername")[0]
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.transport.abort()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        results = await asyncio.gather(_pump(reader, up_writer, source, control, rng),
                                       _pump(up_reader, writer, source, control, rng), return_exceptions=True)
        del results
        for w in (writer, up_writer):
            w.transport.abort()

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--control", required=True)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(_address(args.listen), _address(args.target), LinkControl(args.control)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
