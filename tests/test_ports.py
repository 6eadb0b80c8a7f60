"""The test port helper hands out ports the kernel will not give to an outgoing connection."""

import socket

from tests.ports import _ephemeral_low, devnet_base_port, free_port


def test_ports_are_below_the_ephemeral_range_free_and_never_repeated():
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(10_000 <= p < _ephemeral_low() for p in ports)
    for p in ports[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


def test_devnet_base_port_leaves_api_and_peer_ports_free():
    base = devnet_base_port(3)
    for port in [base + 1, base + 2, base + 3, base - 999, base - 998, base - 997]:
        assert port < _ephemeral_low()
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    assert devnet_base_port(3) != base
