"""Run by the live system's python3 (standard library only), sent over SSH at each deployment.

agent.py facts                 hardware inventory and candidate disks, as JSON
agent.py disks                 the candidate disks alone (fast: no lshw, no smartctl)
agent.py write DISK MAP        decompressed mapped ranges on stdin -> DISK, then verify
agent.py chain DISK MAP CONFIG  the same, the stream from stdin or the previous PC, forwarded on
                               (CONFIG "-": the first line of stdin)
agent.py finish DISK           JSON spec on stdin: GPT repair, grow, personalise

target_partitions.py, target_chain.py and target_personalise.py travel beside it: every partition
node it writes to is found through sysfs (or a loop device over the partition's bytes) and
checked, never guessed.
"""

import hashlib
import json
import os
import queue
import shutil
import struct
import subprocess
import sys
import tempfile
import threading

try:
    from provisioning.imaging import target_partitions as partitions  # on the server (tests)
except ImportError:
    import target_partitions as partitions  # on the live system, next to agent.py
try:
    from provisioning.imaging import target_chain  # on the server (tests)
except ImportError:
    import target_chain  # on the live system, next to agent.py

gpt_partitions = partitions.gpt_partitions
_read = partitions.read_sysfs

CHUNK = 4 * 1024 * 1024
VERIFY_BATCH = 128 * 1024 * 1024
SKIP_PREFIXES = ("loop", "ram", "zram", "dm-", "sr", "md", "fd", "nbd")


def sh(*args, check=True, data=None):
    done = subprocess.run(list(args), input=data, capture_output=True)
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise RuntimeError(f"{args[0]}: {message[-400:]}")
    return done


def _system_disks():
    """Disks holding the running system (the live medium): never candidates."""
    names = set()
    for line in _read("/proc/mounts").splitlines():
        source, target = line.split()[:2]
        if target in ("/", "/run/live/medium", "/lib/live/mount/medium") and source.startswith(
            "/dev/"
        ):
            base = os.path.basename(os.path.realpath(source))
            parent = os.path.basename(os.path.dirname(os.path.realpath(f"/sys/class/block/{base}")))
            names.update({base, parent})
    return names


def describe_disk(name):
    base = f"/sys/block/{name}"
    path = os.path.realpath(base)
    if name.startswith("nvme"):
        transport = "nvme"
    elif name.startswith("mmcblk"):
        transport = "mmc"
    else:
        transport = "usb" if "/usb" in path else "sata"
    return {
        "path": f"/dev/{name}",
        "size_bytes": int(_read(f"{base}/size", "0")) * 512,
        "model": _read(f"{base}/device/model"),
        "serial": _read(f"{base}/device/serial") or _read(f"{base}/serial"),
        "transport": transport,
        "rotational": _read(f"{base}/queue/rotational") == "1",
        "removable": _read(f"{base}/removable") == "1",
    }


def candidate_disks():
    system = _system_disks()
    return [
        describe_disk(name)
        for name in sorted(os.listdir("/sys/block"))
        if not name.startswith(SKIP_PREFIXES) and name not in system
    ]


def internal(disks):
    return [d for d in disks if not d["removable"] and d["transport"] != "usb"]


def choose_disk(disks):
    """The one internal disk to image; an error names the candidates when there is not one."""
    found = internal(disks)
    if len(found) == 1:
        return found[0]
    names = ", ".join(d["path"] for d in found) or "aucun"
    raise ValueError(f"disque cible ambigu ou absent (internes : {names}) : précisez-le")


def _battery():
    out = []
    root = "/sys/class/power_supply"
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if _read(f"{root}/{name}/type") != "Battery":
            continue
        full = _read(f"{root}/{name}/energy_full") or _read(f"{root}/{name}/charge_full")
        design = _read(f"{root}/{name}/energy_full_design") or _read(
            f"{root}/{name}/charge_full_design"
        )
        out.append(
            {
                "name": name,
                "full": full,
                "design": design,
                "cycles": _read(f"{root}/{name}/cycle_count"),
            }
        )
    return out


def facts():
    disks = candidate_disks()
    tools = {}
    for key, args in (("lshw", ["lshw", "-json", "-quiet"]), ("dmidecode", ["dmidecode"])):
        if shutil.which(args[0]):
            done = subprocess.run(args, capture_output=True, timeout=120)
            tools[key] = done.stdout.decode(errors="replace")
    smart = {}
    if shutil.which("smartctl"):
        for disk in disks:
            done = subprocess.run(
                ["smartctl", "--json", "-a", disk["path"]], capture_output=True, timeout=60
            )
            smart[disk["path"]] = done.stdout.decode(errors="replace")
    return {"disks": disks, "tools": tools, "smartctl": smart, "battery": _battery()}


def _verify(fd, batch, bad):
    """Flush what was written, drop it from the cache, read each range back and hash it."""
    os.fdatasync(fd)
    for offset, length, digest in batch:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        h = hashlib.sha256()
        done = 0
        while done < length:
            data = os.pread(fd, min(CHUNK, length - done), offset + done)
            if not data:
                break
            h.update(data)
            done += len(data)
        if h.hexdigest() != digest:
            bad.append(offset)


def in_use(disk):
    """Why `disk` must not be written (mounted, swap, held by another device), or None.

    Refuses outright a node that is not a whole disk known to the kernel.
    """
    directory = partitions.disk_dir(disk)
    names = {os.path.basename(directory), *partitions.sysfs_partitions(directory).values()}
    names.update(partitions.loops_over(disk))
    sources = [line.split()[0] for line in _read("/proc/mounts").splitlines()]
    sources += [line.split()[0] for line in _read("/proc/swaps").splitlines()[1:]]
    for source in sources:
        if source.startswith("/dev/") and os.path.basename(os.path.realpath(source)) in names:
            return f"{disk} est utilisé ({source} monté ou en swap)"
    if any(
        os.listdir(f"/sys/class/block/{n}/holders")
        for n in names
        if os.path.isdir(f"/sys/class/block/{n}/holders")
    ):
        return f"{disk} est tenu par un autre périphérique (LVM, RAID, chiffrement)"
    return None


def write(disk, map_path, source=None):
    """Write the ranges from `source` (stdin); a second thread reads back and hashes each batch
    meanwhile."""
    refusal = in_use(disk)
    if refusal:
        raise RuntimeError(refusal)
    with open(map_path) as f:
        block_map = json.load(f)
    ranges = block_map["ranges"]
    source = source or sys.stdin.buffer
    fd = os.open(disk, os.O_RDWR)
    bad, batches = [], queue.Queue(maxsize=4)
    failure = []

    def verifier():
        try:
            while (batch := batches.get()) is not None:
                _verify(fd, batch, bad)
        except OSError as error:
            failure.append(error)

    thread = threading.Thread(target=verifier)
    thread.start()
    try:
        if os.lseek(fd, 0, os.SEEK_END) < block_map["size"]:
            raise RuntimeError("disque plus petit que l'image")
        batch, batch_bytes = [], 0
        for offset, length, digest in ranges:
            done = 0
            while done < length:
                data = source.read(min(CHUNK, length - done))
                if not data:
                    raise RuntimeError("flux interrompu avant la fin des plages")
                os.pwrite(fd, data, offset + done)
                done += len(data)
            batch.append((offset, length, digest))
            batch_bytes += length
            if batch_bytes >= VERIFY_BATCH:
                batches.put(batch)
                batch, batch_bytes = [], 0
        if source.read(1):
            raise RuntimeError("données en trop après la dernière plage")
        batches.put(batch)
    finally:
        batches.put(None)
        thread.join()
        os.close(fd)
    if failure:
        raise failure[0]
    return {"ranges": len(ranges), "verified": len(ranges) - len(bad), "bad_offsets": bad[:20]}


def grow_last(disk):
    """Move the backup GPT to the disk's end and grow the last partition to fill the disk
    (written here: sgdisk would wait a second for the kernel at each call)."""
    return partitions.grow_gpt(disk)


def _personaliser():
    """The personalisation code: a sibling module, shipped beside this file."""
    try:
        from provisioning.imaging import target_personalise  # on the server (tests)
    except ImportError:
        import target_personalise  # on the live system, next to agent.py
    return target_personalise


def _ext_clean(node):
    """s_state says cleanly unmounted and without errors (ext2/3/4 superblock at 1024)."""
    with open(node, "rb") as f:
        f.seek(1024 + 0x3A)
        state = struct.unpack("<H", f.read(2))[0]
    return state == 1


def _mounted_from(mount_point, node):
    """Refuse to personalise unless `node`'s filesystem is the one mounted at `mount_point`."""
    if os.stat(mount_point).st_dev != os.stat(node).st_rdev:
        raise partitions.NotOurs(f"{mount_point} ne porte pas le système de {node}")


def finish(disk, spec):
    refusal = in_use(disk)
    if refusal:
        raise RuntimeError(refusal)
    last = grow_last(disk)
    result = {"root_partition": last["number"], "size_sectors": last["last"] - last["first"] + 1}
    with partitions.PartitionDevice(disk, last) as part:
        with open(part.node(), "rb") as f:
            f.seek(1080)
            is_ext = f.read(2) == b"\x53\xef"
        if not is_ext:
            raise RuntimeError("la dernière partition n'est pas un système ext2/3/4")
        if _ext_clean(part.node()):
            # The filesystem is byte for byte the image's (every range verified) and was
            # unmounted cleanly: resize2fs need not wait for a full e2fsck.
            sh("resize2fs", "-f", part.node())
        else:
            fsck = sh("e2fsck", "-f", "-p", part.node(), check=False)
            if fsck.returncode not in (0, 1):
                raise RuntimeError(f"e2fsck : {fsck.stdout.decode(errors='replace')[-300:]}")
            sh("resize2fs", part.node())
        mount_point = tempfile.mkdtemp(prefix="reemploi-root-")
        try:
            sh("mount", part.node(), mount_point)
            _mounted_from(mount_point, part.node())
            result.update(_personaliser().personalise(mount_point, spec))
        finally:
            sh("umount", mount_point, check=False)
            os.rmdir(mount_point)
    return result


def main(argv):
    try:
        if argv[1] == "facts":
            result = facts()
        elif argv[1] == "disks":
            result = {"disks": candidate_disks()}
        elif argv[1] == "identify":
            name = os.path.basename(os.path.realpath(argv[2]))
            if not os.path.isdir(f"/sys/block/{name}"):
                raise ValueError(f"{argv[2]} n'est pas un disque")
            result = describe_disk(name)
        elif argv[1] == "write":
            result = write(argv[2], argv[3])
        elif argv[1] == "chain":
            return target_chain.main(argv, write)
        elif argv[1] == "finish":
            result = finish(argv[2], json.load(sys.stdin))
        else:
            raise ValueError(f"commande inconnue {argv[1]}")
    except partitions.NotOurs as error:
        print(json.dumps({"error": str(error)}))
        return 1
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
