"""Chained deployment on the live system (standard library only): receive, write, forward.

`agent.py chain DISK MAP CONFIG` reads the compressed stream either from its SSH stdin (the
first PC) or from its predecessor over a direct TCP connection on the workshop LAN (it listens on
an ephemeral port of its own address and prints `{"listening": PORT}` first), decompresses it
into the disk like `write`, and forwards the same compressed bytes to its successor, if any.

A hop is authenticated by a one-time token the server gives both ends over SSH: the receiver
sends a fresh nonce, and every frame carries HMAC-SHA256(token, nonce | seq | length | payload),
so a LAN peer can neither connect without the token, inject, reorder nor replay data. A frame
of length 0 ends the stream (a cut is never taken for the end). Forwarding runs in its own
thread: its failure is reported beside the result, never as the PC's own failure.
"""

import hashlib
import hmac
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time

HELLO = b"reemploi-chain-1"
NONCE_BYTES = 16
MAC_BYTES = 32
FRAME = 1024 * 1024
MAX_FRAME = 8 * 1024 * 1024
ACCEPT_SECONDS = 120.0  # the predecessor connects once it was started, the server's round trip
IDLE_SECONDS = 60.0  # a predecessor silent that long is gone (cable pulled, link down)
SEND_SECONDS = 30.0  # a successor that takes nothing that long is gone: stop forwarding
PROGRESS_SECONDS = 0.25
_out = threading.Lock()


def emit(message):
    """One JSON line on stdout, whole even when two threads report at once."""
    with _out:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


class Upstream(RuntimeError):
    """The stream stopped before its end: the fault is upstream, not this PC's."""


def _mac(token, nonce, seq, payload):
    h = hmac.new(token, nonce + struct.pack(">QI", seq, len(payload)), hashlib.sha256)
    h.update(payload)
    return h.digest()


def _recv_exact(sock, count):
    """`count` bytes, received straight into one buffer."""
    buffer = bytearray(count)
    view, done = memoryview(buffer), 0
    while done < count:
        got = sock.recv_into(view[done:])
        if not got:
            raise Upstream("le PC précédent a fermé la connexion avant la fin du flux")
        done += got
    return buffer


class HopReader:
    """The authenticated stream from the predecessor, as payload chunks."""

    def __init__(self, sock, token, nonce):
        self.sock, self.token, self.nonce, self.seq = sock, token, nonce, 0

    def frame(self):
        (length,) = struct.unpack(">I", _recv_exact(self.sock, 4))
        if length > MAX_FRAME:
            raise Upstream("trame trop longue : flux refusé")
        payload = _recv_exact(self.sock, length) if length else b""
        mac = _recv_exact(self.sock, MAC_BYTES)
        if not hmac.compare_digest(mac, _mac(self.token, self.nonce, self.seq, payload)):
            raise Upstream("trame non authentifiée (jeton ou ordre faux) : flux refusé")
        self.seq += 1
        return payload

    def __iter__(self):
        try:
            while payload := self.frame():
                yield payload
        except TimeoutError:
            raise Upstream("le PC précédent n'envoie plus rien") from None
        except OSError as error:
            raise Upstream(f"connexion au PC précédent perdue : {error}") from None


def accept(server, token, deadline):
    """The first connection that proves it holds `token`; others are closed and ignored."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Upstream("le PC précédent ne s'est pas connecté")
        server.settimeout(left)
        try:
            sock, _ = server.accept()
        except TimeoutError:
            raise Upstream("le PC précédent ne s'est pas connecté") from None
        except OSError:
            raise Upstream("arrêté par le serveur avant la connexion du PC précédent") from None
        sock.settimeout(10)
        try:
            nonce = os.urandom(NONCE_BYTES)
            sock.sendall(nonce)
            reader = HopReader(sock, token, nonce)
            if reader.frame() == HELLO:
                sock.settimeout(IDLE_SECONDS)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
                return sock, reader
        except (OSError, Upstream, struct.error):
            pass
        sock.close()


class Forwarder:
    """Sends the same compressed chunks to the successor, in a thread; never raises.

    The successor is known at start (the first PC) or told later on stdin (`start`); chunks
    wait for that decision, so none is lost.
    """

    def __init__(self):
        self.error = ""
        self.sent = 0
        self.queue = queue.Queue(maxsize=16)
        self.thread = None
        self.decided = threading.Event()

    def start(self, forward):
        if forward and not self.decided.is_set():
            self.thread = threading.Thread(target=self._run, args=(forward,), daemon=True)
            self.thread.start()
        self.decided.set()

    def push(self, chunk):
        if not self.decided.is_set():
            self.decided.wait()
        if self.thread is not None and not self.error:
            self.queue.put(chunk)

    def end(self):
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()

    def _run(self, forward):
        host, port, token = forward["host"], forward["port"], bytes.fromhex(forward["token"])
        sock = None
        try:
            sock = socket.create_connection((host, port), timeout=15)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            nonce = bytes(_recv_exact(sock, NONCE_BYTES))
            seq = 0

            def send(payload):
                nonlocal seq
                mac = _mac(token, nonce, seq, payload)
                sock.sendall(struct.pack(">I", len(payload)))
                sock.sendall(payload)  # as received: no copy into a bigger buffer
                sock.sendall(mac)
                seq += 1

            send(HELLO)
            sock.settimeout(SEND_SECONDS)
            while (chunk := self.queue.get()) is not None:
                send(chunk)
                self.sent += len(chunk)
            send(b"")
            sock.shutdown(socket.SHUT_WR)
        except (OSError, Upstream) as error:
            self.error = f"transmission au PC suivant ({host}) interrompue : {error}"
            emit({"forward_error": self.error})  # the server re-feeds the successors at once
            # Keep taking chunks so that this PC's own write never waits on a dead successor.
            while self.queue.get() is not None:
                pass
        finally:
            if sock is not None:
                sock.close()


def _stdin_chunks():
    """The server's stream, in chunks of about FRAME bytes (a pipe gives 64 KiB at a time)."""
    stdin = sys.stdin.buffer
    while chunk := stdin.read(FRAME):
        yield chunk


def _watch_stdin(holder, forwarder):
    """First line: where to forward (the server knows it once every PC listens). Then the
    server closing our channel stops this receiving PC (it re-feeds, or gave up)."""
    stdin = sys.stdin.buffer
    try:
        forwarder.start(json.loads(stdin.readline() or b"null"))
    except ValueError:
        forwarder.start(None)
    while stdin.read(65536):  # until the server closes the channel
        pass
    forwarder.start(None)
    try:
        holder["sock"].shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def chain(disk, map_path, config_path, write_from):
    """Receive (stdin or hop), write through `write_from(disk, map_path, stream)`, forward."""
    if config_path == "-":  # the first line of stdin: the token never touches the disk
        config = json.loads(sys.stdin.buffer.readline() or b"{}")
    else:
        with open(config_path) as f:
            config = json.load(f)
        os.unlink(config_path)  # the tokens are used once
    listener = None
    if config.get("listen"):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((config["listen"], 0))
        listener.listen(4)
        holder = {"sock": listener}
        forwarder = Forwarder()
        threading.Thread(target=_watch_stdin, args=(holder, forwarder), daemon=True).start()
        emit({"listening": listener.getsockname()[1]})
        try:
            holder["sock"], source = accept(
                listener, bytes.fromhex(config["token"]), time.monotonic() + ACCEPT_SECONDS
            )
        except Upstream as error:
            return {"error": f"flux amont interrompu : {error}", "upstream": True}
        finally:
            listener.close()
    else:
        source = _stdin_chunks()
        forwarder = Forwarder()
        forwarder.start(config.get("forward"))
    unzstd = subprocess.Popen(
        ["zstd", "-q", "-d", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    stdin, stdout = unzstd.stdin, unzstd.stdout
    assert stdin is not None and stdout is not None
    pumped = {"bytes": 0, "upstream": "", "ended": False}

    def pump():
        last = 0.0
        try:
            for chunk in source:
                forwarder.push(chunk)
                stdin.write(chunk)
                pumped["bytes"] += len(chunk)
                if time.monotonic() - last >= PROGRESS_SECONDS:
                    last = time.monotonic()
                    emit({"received": pumped["bytes"]})
            pumped["ended"] = True
        except Upstream as error:
            pumped["upstream"] = str(error)
        except OSError:
            pass  # the decompressor stopped: the writer says why
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        result = write_from(disk, map_path, stdout)
        error = None
    except Exception as failure:
        result, error = None, failure
    finally:
        stdout.close()
        unzstd.wait()
    if error is not None and not pumped["upstream"]:
        raise error  # this PC's own failure; its successors see the stream end and are re-fed
    thread.join()
    forwarder.end()
    if pumped["upstream"]:
        return {"error": f"flux amont interrompu : {pumped['upstream']}", "upstream": True}
    if error is not None or result is None:
        raise error or RuntimeError("aucun résultat d'écriture")
    result["received"] = pumped["bytes"]
    if forwarder.thread is not None:
        result["forwarded"] = forwarder.sent
        if forwarder.error:
            result["forward_error"] = forwarder.error
    return result


def main(argv, write_from):
    try:
        result = chain(argv[2], argv[3], argv[4], write_from)
    except Exception as error:
        result = {"error": f"{type(error).__name__}: {error}"}
    emit(result)
    return 1 if "error" in result else 0
