"""Find a disk's partition and prove every node we touch belongs to it (standard library only).

Shipped beside the target agent. A partition's node is never guessed from the disk's name
(partition 2 of loop1 is not loop12, another device): the kernel's sysfs names it, or, when the
kernel made no partition nodes (a loop device without partscan), a loop device is attached over
the partition's byte range. Each node is checked against sysfs before it is used.
"""

import fcntl
import os
import stat
import struct
import subprocess
import uuid
import zlib

SYS = "/sys"
SECTOR = 512
BLKRRPART = 0x125F  # _IO(0x12, 95): reread the partition table


class NotOurs(RuntimeError):
    """A node does not belong to the chosen disk: nothing is written to it."""


def read_sysfs(path, default=""):
    """A sysfs (or /proc) attribute, stripped; `default` when it cannot be read."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def _sh(*args):
    done = subprocess.run(list(args), capture_output=True)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise RuntimeError(f"{args[0]} : {message[-400:]}")
    return done.stdout.decode().strip()


def gpt_partitions(disk):
    """The used entries of the disk's GPT: number, type, guid, first and last sector, name."""
    with open(disk, "rb") as f:
        f.seek(SECTOR)
        header = f.read(92)
        if header[:8] != b"EFI PART":
            raise RuntimeError("pas de table de partitions GPT")
        entries_lba, count, size = struct.unpack_from("<QII", header, 72)
        f.seek(entries_lba * SECTOR)
        table = f.read(count * size)
    parts = []
    for i in range(count):
        entry = table[i * size : (i + 1) * size]
        if entry[:16] == bytes(16):
            continue
        first, last = struct.unpack_from("<QQ", entry, 32)
        parts.append(
            {
                "number": i + 1,
                "type": str(uuid.UUID(bytes_le=entry[:16])).upper(),
                "guid": str(uuid.UUID(bytes_le=entry[16:32])).upper(),
                "first": first,
                "last": last,
                "name": entry[56:128].decode("utf-16-le").rstrip("\x00"),
            }
        )
    return parts


def _crc(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def _header_crc(header, size):
    return _crc(header[:16] + bytes(4) + header[20:size])


def grow_gpt(disk):
    """Move the backup GPT to the disk's end and grow the last partition to the last usable
    sector, in one write and without sgdisk's one-second wait before its reread.

    Both CRCs are checked before anything is written and the table read back after; the
    kernel is asked to reread once (BLKRRPART), which a busy or partitionless disk may refuse.
    """
    fd = os.open(disk, os.O_RDWR)
    try:
        sectors = os.lseek(fd, 0, os.SEEK_END) // SECTOR
        header = bytearray(os.pread(fd, SECTOR, SECTOR))
        if header[:8] != b"EFI PART":
            raise RuntimeError("pas de table de partitions GPT")
        size = struct.unpack_from("<I", header, 12)[0]
        entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
        table = bytearray(os.pread(fd, count * entry_size, entries_lba * SECTOR))
        if struct.unpack_from("<I", header, 16)[0] != _header_crc(header, size) or (
            struct.unpack_from("<I", header, 88)[0] != _crc(table)
        ):
            raise RuntimeError("table GPT principale corrompue (somme de contrôle)")
        table_sectors = -(-count * entry_size // SECTOR)
        backup_lba = sectors - 1
        last_usable = backup_lba - table_sectors - 1
        used = [i for i in range(count) if table[i * entry_size : i * entry_size + 16] != bytes(16)]
        if not used:
            raise RuntimeError("table GPT sans partition")
        last = max(used, key=lambda i: struct.unpack_from("<Q", table, i * entry_size + 32)[0])
        if struct.unpack_from("<Q", table, last * entry_size + 40)[0] > last_usable:
            raise RuntimeError("la dernière partition dépasse la fin du disque")
        struct.pack_into("<Q", table, last * entry_size + 40, last_usable)
        struct.pack_into("<Q", header, 32, backup_lba)
        struct.pack_into("<Q", header, 48, last_usable)
        struct.pack_into("<I", header, 88, _crc(table))
        struct.pack_into("<I", header, 16, _header_crc(header, size))
        backup = bytearray(header)
        struct.pack_into("<QQ", backup, 24, backup_lba, 1)
        struct.pack_into("<Q", backup, 72, last_usable + 1)
        struct.pack_into("<I", backup, 16, _header_crc(backup, size))
        mbr = bytearray(os.pread(fd, SECTOR, 0))
        if mbr[510:512] == b"\x55\xaa" and mbr[446 + 4] == 0xEE:  # the protective MBR
            struct.pack_into("<I", mbr, 446 + 12, min(sectors - 1, 0xFFFFFFFF))
            os.pwrite(fd, bytes(mbr), 0)
        os.pwrite(fd, bytes(table), (last_usable + 1) * SECTOR)
        os.pwrite(fd, bytes(backup), backup_lba * SECTOR)
        os.pwrite(fd, bytes(table), entries_lba * SECTOR)
        os.pwrite(fd, bytes(header), SECTOR)
        os.fsync(fd)
        if bytes(os.pread(fd, SECTOR, backup_lba * SECTOR)[:size]) != bytes(backup[:size]):
            raise RuntimeError("la table GPT de secours n'a pas été relue à l'identique")
        try:
            fcntl.ioctl(fd, BLKRRPART)
        except OSError:
            pass  # a loop device without partitions, or in use: PartitionDevice asks partx
    finally:
        os.close(fd)
    return max(gpt_partitions(disk), key=lambda p: p["first"])


def device_number(node):
    """(major, minor) of a block device node; refuses anything else."""
    try:
        st = os.stat(node)
    except FileNotFoundError:
        raise NotOurs(f"{node} n'existe pas sur ce poste : rien n'y sera écrit") from None
    if not stat.S_ISBLK(st.st_mode):
        raise NotOurs(f"{node} n'est pas un périphérique bloc : rien n'y sera écrit")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def sysfs_dir(major, minor, sys_root=SYS):
    """The kernel's directory for a block device number, or None when it has none."""
    path = f"{sys_root}/dev/block/{major}:{minor}"
    return os.path.realpath(path) if os.path.exists(path) else None


def disk_dir(disk, sys_root=SYS):
    """The sysfs directory of a whole disk; refuses a partition or an unknown device."""
    found = sysfs_dir(*device_number(disk), sys_root=sys_root)
    if found is None:
        raise NotOurs(f"{disk} est inconnu du noyau : rien n'y sera écrit")
    if os.path.exists(f"{found}/partition"):
        raise NotOurs(f"{disk} est une partition, pas un disque entier : rien n'y sera écrit")
    return found


def sysfs_partitions(directory):
    """Partition number -> kernel name, for the disk whose sysfs directory is given.

    The partitions of a disk are the subdirectories of its sysfs directory that hold a
    `partition` file (the number); their node is /dev/<name>.
    """
    found = {}
    for name in sorted(os.listdir(directory)):
        number = read_sysfs(f"{directory}/{name}/partition")
        if number.isdigit():
            found[int(number)] = name
    return found


def partition_extent(directory, name):
    """(first sector, sectors) the kernel holds for a partition, from `start` and `size`."""
    return int(read_sysfs(f"{directory}/{name}/start", "-1")), int(
        read_sysfs(f"{directory}/{name}/size", "-1")
    )


def check_partition_node(node, disk, number, sys_root=SYS):
    """Refuse unless `node` is partition `number` of `disk` in the kernel's own view."""
    found = sysfs_dir(*device_number(node), sys_root=sys_root)
    owner = disk_dir(disk, sys_root)
    if (
        found is None
        or os.path.dirname(found) != owner
        or read_sysfs(f"{found}/partition") != str(number)
    ):
        raise NotOurs(f"{node} n'est pas la partition {number} de {disk} : rien n'y sera écrit")


def loop_backing(directory):
    """(backing file, offset, sizelimit) of the loop device in that sysfs directory, or None."""
    base = f"{directory}/loop"
    backing = read_sysfs(f"{base}/backing_file")
    if not backing:
        return None
    return (
        backing,
        int(read_sysfs(f"{base}/offset", "0")),
        int(read_sysfs(f"{base}/sizelimit", "0")),
    )


def check_loop_node(node, disk, offset, size, sys_root=SYS):
    """Refuse unless `node` is a loop device over exactly `size` bytes of `disk` at `offset`."""
    refusal = (
        f"{node} ne couvre pas les octets {offset} à {offset + size} de {disk} : "
        "rien n'y sera écrit"
    )
    found = sysfs_dir(*device_number(node), sys_root=sys_root)
    bound = loop_backing(found) if found else None
    if bound is None:
        raise NotOurs(refusal)
    backing, at, limit = bound
    try:
        same = device_number(backing) == device_number(disk)
    except (OSError, NotOurs):
        same = False
    if not same or at != offset or limit != size:
        raise NotOurs(refusal)


def loops_over(disk, sys_root=SYS):
    """Names of the loop devices whose backing file is `disk`'s node."""
    wanted = device_number(disk)
    names = []
    for name in sorted(os.listdir(f"{sys_root}/block")):
        bound = loop_backing(f"{sys_root}/block/{name}")
        if bound is None:
            continue
        try:
            if device_number(bound[0]) == wanted:
                names.append(name)
        except (OSError, NotOurs):
            continue
    return names


class PartitionDevice:
    """A checked node for one GPT partition of a disk: the kernel's, or a loop device we attach.

    `node()` checks again before each use; an open descriptor keeps our loop device from being
    detached and given to someone else while we work.
    """

    def __init__(self, disk, part, sys_root=SYS):
        self.disk, self.part, self.sys_root = disk, part, sys_root
        self.path, self.loop, self.fd = None, False, None
        self.offset = part["first"] * SECTOR
        self.size = (part["last"] - part["first"] + 1) * SECTOR

    def __enter__(self):
        directory = disk_dir(self.disk, self.sys_root)
        number = self.part["number"]
        names = sysfs_partitions(directory)
        if number in names and not self._kernel_agrees(directory, names[number]):
            # The kernel still holds the table from before grow_last: ask it to reread.
            subprocess.run(["partx", "-u", "--nr", str(number), self.disk], capture_output=True)
            if not self._kernel_agrees(directory, names[number]):
                raise NotOurs(
                    f"le noyau voit la partition {number} de {self.disk} avec une autre "
                    "taille que la table GPT : rien n'y sera écrit"
                )
        if number in names:
            self.path = f"/dev/{names[number]}"
        else:
            self.path = _sh(
                "losetup", "-f", "--show", "-o", str(self.offset),
                "--sizelimit", str(self.size), self.disk,
            )  # fmt: skip
            self.loop = True
        try:
            self.fd = os.open(self.path, os.O_RDONLY)
            self.node()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _kernel_agrees(self, directory, name):
        first, sectors = partition_extent(directory, name)
        return (first, sectors) == (self.part["first"], self.size // SECTOR)

    def node(self) -> str:
        """The node's path, after checking it still is this partition of this disk."""
        if self.path is None:
            raise RuntimeError("partition non ouverte")
        if self.loop:
            check_loop_node(self.path, self.disk, self.offset, self.size, self.sys_root)
        else:
            check_partition_node(self.path, self.disk, self.part["number"], self.sys_root)
        return self.path

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.loop and self.path:
            subprocess.run(["losetup", "-d", self.path], capture_output=True)
