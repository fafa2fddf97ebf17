"""SSH to a PC booted into the live system, over paramiko, with pinned host keys.

An exec channel is paramiko's fast path (SFTP is its slow one); aes-gcm its fastest cipher.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paramiko

from provisioning.imaging.hostkeys import PinnedKeyPolicy

FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
WINDOW = 16 * 1024 * 1024
CHUNK = 1024 * 1024


class RemoteError(RuntimeError):
    """A remote command failed; the message says which and what it printed."""


@dataclass
class Endpoint:
    host: str
    port: int = 22
    user: str = "root"


SocketFactory = Callable[[str, int], socket.socket]


def _default_socket(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=15)


def connect(
    endpoint: Endpoint,
    pkey: paramiko.PKey,
    policy: PinnedKeyPolicy,
    *,
    open_socket: SocketFactory | None = None,
    timeout: float = 30.0,
) -> paramiko.Transport:
    """Open an authenticated transport; the host key is checked before authenticating."""
    sock = (open_socket or _default_socket)(endpoint.host, endpoint.port)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock, default_window_size=WINDOW, default_max_packet_size=32768)
    try:
        options = transport.get_security_options()
        options.ciphers = tuple(c for c in FAST_CIPHERS if c in options.ciphers) or options.ciphers
        transport.banner_timeout = timeout
        transport.auth_timeout = timeout
        transport.start_client(timeout=timeout)
        policy.port = endpoint.port
        policy.missing_host_key(None, endpoint.host, transport.get_remote_server_key())
        transport.auth_publickey(endpoint.user, pkey)
        transport.set_keepalive(10)
        return transport
    except BaseException:
        transport.close()
        raise


def run(
    transport: paramiko.Transport,
    command: str,
    stdin: bytes | Iterable[bytes] = b"",
    *,
    check: bool = True,
    timeout: float = 600.0,
    on_sent: Callable[[int], None] | None = None,
) -> tuple[int, bytes, bytes]:
    """Run `command`, feed it `stdin` (bytes or chunks), return (status, stdout, stderr)."""
    channel = transport.open_session(window_size=WINDOW, max_packet_size=32768)
    try:
        channel.settimeout(timeout)
        channel.exec_command(command)
        chunks = [stdin] if isinstance(stdin, bytes) else stdin
        stopped = False  # the command stopped reading: its output says why
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                try:
                    sent = channel.send(view[:CHUNK])  # type: ignore[arg-type]  # paramiko takes any buffer
                except OSError:
                    if not transport.is_active():
                        raise
                    sent = 0
                if sent <= 0:
                    stopped = True
                    break
                view = view[sent:]
                if on_sent is not None:
                    on_sent(sent)
            if stopped:
                break
        if not stopped:
            channel.shutdown_write()
        out, err = bytearray(), bytearray()
        while data := channel.recv(65536):
            out += data
        while data := channel.recv_stderr(65536):
            err += data
        status = channel.recv_exit_status()
        if status == -1 and not transport.is_active():
            raise RemoteError("la connexion SSH a été perdue")
        if stopped and status == 0:
            raise RemoteError(f"« {command.split()[0]} » a cessé de lire son entrée")
        if check and status != 0:
            text = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
            raise RemoteError(f"« {command.split()[0]} » a échoué ({status}) : {text[-500:]}")
        return status, bytes(out), bytes(err)
    finally:
        channel.close()


def fetch_host_key(
    host: str, port: int = 22, open_socket: SocketFactory | None = None
) -> paramiko.PKey:
    """The key a server presents, for enrolment; nothing is authenticated or sent."""
    sock = (open_socket or _default_socket)(host, port)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=15)
        return transport.get_remote_server_key()
    finally:
        transport.close()
