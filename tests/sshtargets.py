"""Real OpenSSH `sshd` targets in network namespaces, with loop devices as their disks.

    with Lab(4) as lab:               # four namespaces, four sshd, four loop devices
        lab.targets[0].host, lab.targets[0].disk, lab.open_socket(host, port)

    with Lab(8, lan=True, uplink="100mbit") as lab:   # one workshop LAN: the PCs reach each
        ...                                            # other; the server's one link is shaped

The controller side of every veth pair lives in a namespace of its own too: private addresses
exist only inside namespaces the lab made, and the client's sockets are opened from there (a
thread joins that namespace, connects, and hands the socket back). Everything is torn down in
`__exit__`, also after a failure: processes in the namespaces, namespaces, loop devices, files.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def can_run() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, loop devices)"
    for tool in ("sshd", "ip", "losetup", "sgdisk", "zstd", "mkfs.ext4", "ssh-keygen"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is missing"
    return None


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


@dataclass
class SshTarget:
    index: int
    netns: str
    host: str
    disk: str
    disk_file: Path
    host_key: Path
    process: subprocess.Popen | None = None

    def public_key_line(self) -> str:
        return Path(f"{self.host_key}.pub").read_text()


class Lab:
    def __init__(
        self,
        count: int,
        disk_bytes: int = 64 * 2**20,
        *,
        rekey_limit: str = "default none",
        shape: str | None = None,
        lan: bool = False,
        uplink: str | None = None,
        folder: str = "/var/tmp",
    ):
        self.count, self.disk_bytes = count, disk_bytes
        self.rekey_limit, self.shape = rekey_limit, shape
        # lan: every PC and the controller on one bridge (a switch) in a namespace of its own;
        # `uplink` shapes the controller's single link into it, both ways.
        self.lan, self.uplink = lan, uplink
        self.folder = folder  # where the disk files live (/dev/shm: one machine's disk is
        # not shared by eight PCs' writes, as it is in a workshop)
        self.prefix = ""
        self.controller = ""
        self.bridge = ""
        self.targets: list[SshTarget] = []
        self.dir: Path | None = None
        self.client_key: paramiko.Ed25519Key | None = None
        self.client_key_file: Path | None = None

    # -- setup ------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="reemploi-lab-", dir=self.folder))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.client_key_file = self.dir / "client_key"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.client_key_file))
        self.client_key = paramiko.Ed25519Key.from_private_key_file(str(self.client_key_file))
        (self.dir / "authorized_keys").write_text(Path(f"{self.client_key_file}.pub").read_text())
        # Names are drawn afresh at each run and taken atomically: another process may hold
        # namespaces of any name, including ones this lab used to pick.
        for _ in range(20):
            self.prefix = f"r5{secrets.token_hex(4)}"
            if sh("ip", "netns", "add", f"{self.prefix}c", check=False).returncode == 0:
                self.controller = f"{self.prefix}c"
                break
        else:
            raise RuntimeError("no free network namespace name")
        sh("ip", "-n", self.controller, "link", "set", "lo", "up")
        if self.lan:
            self._add_bridge()
        for i in range(self.count):
            self.targets.append(self._add_target(i))
        for target in self.targets:
            self._wait_listening(target)

    def _add_bridge(self) -> None:
        """The workshop switch: a bridge in its own namespace, the controller's link shaped."""
        self.bridge = f"{self.prefix}b"
        sh("ip", "netns", "add", self.bridge)
        sh("ip", "-n", self.bridge, "link", "set", "lo", "up")
        sh("ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge, "link", "set", "br0", "up")
        sh("ip", "-n", self.controller, "link", "add", "up0", "type", "veth",
           "peer", "name", "u0", "netns", self.bridge)  # fmt: skip
        sh("ip", "-n", self.bridge, "link", "set", "u0", "master", "br0", "up")
        sh("ip", "-n", self.controller, "addr", "add", "10.214.0.1/24", "dev", "up0")
        sh("ip", "-n", self.controller, "link", "set", "up0", "up")
        if self.uplink:
            for netns, dev in ((self.controller, "up0"), (self.bridge, "u0")):
                sh("ip", "netns", "exec", netns, "tc", "qdisc", "add", "dev", dev, "root",
                   "tbf", "rate", self.uplink, "burst", "256kb", "latency", "50ms")  # fmt: skip

    def _add_target(self, i: int) -> SshTarget:
        assert self.dir is not None
        netns = f"{self.prefix}t{i}"
        sh("ip", "netns", "add", netns)  # fails, never shares, if someone took the name
        disk_file = self.dir / f"disk{i}.img"
        with open(disk_file, "wb") as f:
            f.truncate(self.disk_bytes)
        disk = sh("losetup", "-f", "--show", str(disk_file)).stdout.strip()
        host_key = self.dir / f"host{i}"
        host = f"10.214.0.{10 + i}" if self.lan else f"10.213.{i}.2"
        target = SshTarget(i, netns, host, disk, disk_file, host_key)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key))
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        if self.lan:
            sh("ip", "-n", self.bridge, "link", "add", f"p{i}", "type", "veth",
               "peer", "name", "eth0", "netns", netns)  # fmt: skip
            sh("ip", "-n", self.bridge, "link", "set", f"p{i}", "master", "br0", "up")
            sh("ip", "-n", netns, "addr", "add", f"{host}/24", "dev", "eth0")
            sh("ip", "-n", netns, "link", "set", "eth0", "up")
            return self._start_sshd(target)
        veth = f"c{i}"
        sh(
            "ip",
            "-n",
            self.controller,
            "link",
            "add",
            veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            netns,
        )
        sh("ip", "-n", self.controller, "addr", "add", f"10.213.{i}.1/24", "dev", veth)
        sh("ip", "-n", netns, "addr", "add", f"10.213.{i}.2/24", "dev", "eth0")
        sh("ip", "-n", self.controller, "link", "set", veth, "up")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        if self.shape:
            sh(
                "ip",
                "netns",
                "exec",
                self.controller,
                "tc",
                "qdisc",
                "add",
                "dev",
                veth,
                "root",
                "tbf",
                "rate",
                self.shape,
                "burst",
                "1mb",
                "latency",
                "50ms",
            )
        return self._start_sshd(target)

    def _start_sshd(self, target: SshTarget) -> SshTarget:
        assert self.dir is not None
        i, netns, host_key = target.index, target.netns, target.host_key
        config = self.dir / f"sshd{i}.conf"
        config.write_text(
            f"ListenAddress {target.host}\nPort 22\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {self.dir}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            f"StrictModes no\nPidFile {self.dir}/sshd{i}.pid\nRekeyLimit {self.rekey_limit}\n"
            "LogLevel ERROR\nMaxStartups 50\n"
            # The test PCs log in as this machine's root, whose shell runs ~/.bashrc: a
            # version manager's shim lock left stale there must not stall every command.
            "SetEnv PYENV_REHASH_TIMEOUT=1\n"
        )
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        sh(sshd, "-t", "-f", str(config))
        target.process = subprocess.Popen(
            ["ip", "netns", "exec", netns, sshd, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / f"sshd{i}.log", "wb"),
        )
        return target

    def _wait_listening(self, target: SshTarget) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                self.open_socket(target.host, 22).close()
                return
            except OSError:
                stopped = target.process is not None and target.process.poll() is not None
                if time.monotonic() > deadline or stopped:
                    raise RuntimeError(f"sshd {target.index} did not start") from None
                time.sleep(0.05)

    # -- use --------------------------------------------------------------------------------
    def open_socket(self, host: str, port: int) -> socket.socket:
        """A TCP connection opened from inside the controller namespace."""
        result: dict[str, object] = {}

        def work() -> None:
            try:
                fd = os.open(f"/run/netns/{self.controller}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                result["sock"] = socket.create_connection((host, port), timeout=10)
            except BaseException as error:
                result["error"] = error

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]  # type: ignore[misc]
        return result["sock"]  # type: ignore[return-value]

    def ssh_command(self, target: SshTarget, remote: str) -> list[str]:
        """OpenSSH's client from the controller namespace (the bench's baseline)."""
        return [
            "ip",
            "netns",
            "exec",
            self.controller,
            "ssh",
            "-q",
            "-i",
            str(self.client_key_file),
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={self.dir}/known_hosts",
            "-o",
            "StrictHostKeyChecking=no",
            f"root@{target.host}",
            remote,
        ]

    def session_pids(self, target: SshTarget) -> list[int]:
        pids = sh("ip", "netns", "pids", target.netns, check=False).stdout.split()
        listener = target.process.pid if target.process else -1
        return [int(p) for p in pids if int(p) != listener]

    def kill_sessions(self, target: SshTarget) -> None:
        """Drop every SSH connection to the target, as a pulled cable or a crash would."""
        for pid in self.session_pids(target):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # -- teardown ---------------------------------------------------------------------------
    def close(self) -> None:
        for target in self.targets:
            if target.process is not None and target.process.poll() is None:
                target.process.terminate()
                try:
                    target.process.wait(5)
                except subprocess.TimeoutExpired:
                    target.process.kill()
                    target.process.wait()
            for _ in range(50):
                pids = self.session_pids(target)
                if not pids:
                    break
                self.kill_sessions(target)
                time.sleep(0.1)
            sh("ip", "netns", "del", target.netns, check=False)
        if self.dir is not None:
            # Any partition loop device an interrupted agent left over our disks, then the disks:
            # only loop devices over our own files or disks, whatever their names.
            disks = {t.disk for t in self.targets}
            listed = sh("losetup", "-a", "-O", "NAME,BACK-FILE", "-n", check=False).stdout
            pairs = [line.split(None, 1) for line in listed.splitlines()]
            pairs = [(name, back.strip()) for name, back in (p for p in pairs if len(p) == 2)]
            for name, back in pairs:
                if back in disks and name not in disks:
                    sh("losetup", "-d", name, check=False)
            for name, back in pairs:
                if back.startswith(f"{self.dir}/"):
                    sh("losetup", "-d", name, check=False)
        if self.controller:
            sh("ip", "netns", "del", self.controller, check=False)
        if self.bridge:
            sh("ip", "netns", "del", self.bridge, check=False)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def build_test_image(path: Path, *, size: int = 48 * 2**20, random_bytes: int = 12 * 2**20) -> None:
    """A GPT disk: partition 1 holds random data and holes, partition 2 an ext4 root with /etc."""
    work = Path(tempfile.mkdtemp(prefix="reemploi-img-", dir="/var/tmp"))
    try:
        with open(path, "wb") as f:
            f.truncate(size)
        p1_start, p1_sectors = 2048, (random_bytes + 4 * 2**20) // 512
        sh(
            "sgdisk",
            "-n",
            f"1:{p1_start}:+{p1_sectors}",
            "-t",
            "1:EF00",
            "-c",
            "1:esp",
            "-n",
            "2:0:0",
            "-t",
            "2:8304",
            "-c",
            "2:racine",
            str(path),
        )
        half = random_bytes // 2
        with open(path, "r+b") as f:
            for start in (p1_start * 512, p1_start * 512 + half + 2 * 2**20):  # 2 MiB hole between
                f.seek(start)
                for done in range(0, half, 16 * 2**20):
                    f.write(os.urandom(min(16 * 2**20, half - done)))
        skel = work / "root"
        for d in ("etc/ssh", "etc/skel", "etc/default", "home", "var/lib/dbus", "usr/share/doc"):
            (skel / d).mkdir(parents=True, exist_ok=True)
        (skel / "etc/passwd").write_text(
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        )
        (skel / "etc/shadow").write_text("root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n")
        (skel / "etc/group").write_text("root:x:0:\nsudo:x:27:\naudio:x:29:\nvideo:x:44:\n")
        (skel / "etc/hostname").write_text("image-gabarit\n")
        (skel / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\timage-gabarit\n")
        (skel / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
        (skel / "etc/skel/.bashrc").write_text("# bashrc\n")
        sh(
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            str(skel / "etc/ssh/ssh_host_ed25519_key"),
        )
        shutil.copytree("/usr/share/doc/openssh-client", skel / "usr/share/doc/openssh-client")
        first, last = _partition(path, 2)
        fs = work / "root.ext4"
        sh(
            "mkfs.ext4",
            "-q",
            "-F",
            "-d",
            str(skel),
            "-L",
            "racine",
            str(fs),
            f"{(last - first + 1) * 512 // 1024}k",
        )
        sh(
            "dd",
            f"if={fs}",
            f"of={path}",
            "bs=1M",
            f"seek={first * 512}",
            "oflag=seek_bytes",
            "conv=notrunc,sparse",
            "status=none",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _partition(path: Path, number: int) -> tuple[int, int]:
    """(first, last) sector of a GPT partition."""
    from provisioning.imaging.target_agent import gpt_partitions

    part = next(p for p in gpt_partitions(str(path)) if p["number"] == number)
    return part["first"], part["last"]


def digest(device: str) -> str:
    """SHA-256 of a whole block device, read past the page cache."""
    h = hashlib.sha256()
    fd = os.open(device, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while chunk := os.read(fd, 4 * 2**20):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


@contextmanager
def attached(file: Path, *, partscan: bool = False) -> Iterator[str]:
    """A loop device over `file`, the first free one; detached afterwards if still over it."""
    device = sh("losetup", "-f", "--show", *(["-P"] if partscan else []), str(file)).stdout.strip()
    try:
        yield device
    finally:
        _detach_if_over(device, file)


@contextmanager
def foreign_device(name: str, folder: Path) -> Iterator[str]:
    """A node at `name` for another device, holding an ext4 filesystem of its own.

    `losetup NAME` makes the loop device of that name; a name the kernel never gives
    (`/dev/loop02`) becomes a node of our own for a free loop device. When someone else already
    holds that name, theirs is the foreign device (only read here).
    """
    file = folder / f"foreign-{secrets.token_hex(4)}.img"
    with open(file, "wb") as f:
        f.truncate(16 * 2**20)
    sh("mkfs.ext4", "-q", "-F", "-L", "etranger", str(file))
    device, alias = name, False
    if sh("losetup", name, str(file), check=False).returncode != 0:
        if Path(name).exists():
            device = ""  # someone else's: left bound
        else:
            device = sh("losetup", "-f", "--show", str(file)).stdout.strip()
            rdev = os.stat(device).st_rdev
            os.mknod(name, 0o600 | stat.S_IFBLK, rdev)
            alias = True
    try:
        yield name
    finally:
        if alias:
            os.unlink(name)
        if device:
            _detach_if_over(device, file)
        file.unlink(missing_ok=True)


def _detach_if_over(device: str, file: Path) -> None:
    back = sh("losetup", "-n", "-O", "BACK-FILE", device, check=False).stdout.strip()
    if back == str(file):
        sh("losetup", "-d", device, check=False)
