"""The PC-to-PC hop of a chained deployment: only the holder of the token is heard."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

from provisioning.imaging import target_chain as hop


def listener() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    return server, server.getsockname()[1]


def accepting(server: socket.socket, token: bytes) -> tuple[threading.Thread, dict]:
    got: dict = {}

    def work() -> None:
        try:
            sock, reader = hop.accept(server, token, time.monotonic() + 10)
            got["chunks"] = [bytes(c) for c in reader]
            sock.close()
        except hop.Upstream as error:
            got["error"] = str(error)

    thread = threading.Thread(target=work)
    thread.start()
    return thread, got


def forward(port: int, token: bytes, chunks: list[bytes]) -> str:
    sender = hop.Forwarder()
    sender.start({"host": "127.0.0.1", "port": port, "token": token.hex()})
    for chunk in chunks:
        sender.push(chunk)
    sender.end()
    return sender.error


def test_the_stream_crosses_with_the_token_and_a_stranger_is_refused():
    token = os.urandom(32)
    server, port = listener()
    thread, got = accepting(server, token)
    # A LAN peer without the token: its hello does not authenticate, it is dropped.
    stranger = socket.create_connection(("127.0.0.1", port))
    nonce = hop._recv_exact(stranger, hop.NONCE_BYTES)
    bad = hop._mac(os.urandom(32), bytes(nonce), 0, hop.HELLO)
    stranger.sendall(struct.pack(">I", len(hop.HELLO)) + hop.HELLO + bad)
    assert stranger.recv(1) == b""  # closed on it
    stranger.close()
    chunks = [os.urandom(1000), os.urandom(300_000), b"fin"]
    assert forward(port, token, chunks) == ""
    thread.join(10)
    server.close()
    assert got == {"chunks": chunks}


def test_an_injected_frame_cuts_the_stream_upstream():
    token = os.urandom(32)
    server, port = listener()
    thread, got = accepting(server, token)
    sock = socket.create_connection(("127.0.0.1", port))
    nonce = bytes(hop._recv_exact(sock, hop.NONCE_BYTES))
    hello = hop._mac(token, nonce, 0, hop.HELLO)
    sock.sendall(struct.pack(">I", len(hop.HELLO)) + hop.HELLO + hello)
    forged = b"donnees etrangeres"
    sock.sendall(
        struct.pack(">I", len(forged)) + forged + hop._mac(os.urandom(32), nonce, 1, forged)
    )
    thread.join(10)
    sock.close()
    server.close()
    assert "non authentifiée" in got["error"]


def test_a_dead_successor_never_blocks_the_writer():
    server, port = listener()
    server.close()  # nobody listens there any more
    error = forward(port, os.urandom(32), [os.urandom(100_000) for _ in range(40)])
    assert "transmission au PC suivant" in error
