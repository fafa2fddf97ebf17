#!/bin/sh
# Make this machine "busy" the way a shared CI runner or a workshop PC is, then undo it.
#
#   sudo tests/busy_machine.sh up      # hold loop devices, namespaces, a veth and TCP ports
#   CI=true make test                  # the suite must pass meanwhile
#   sudo tests/busy_machine.sh down    # release exactly what `up` took
#
# `up` binds every free /dev/loop0../dev/loop15 to a small file holding an ext4 filesystem
# (mounting one in four), creating a missing node with mknod; adds network namespaces named
# like the ones a test might pick, with a veth pair in the main namespace addressed in the
# test lab's subnet; and listens on a few usual TCP ports. Devices, names and ports already
# taken by someone else are left alone. Everything taken is written down in $BUSY_DIR, and
# `down` releases only that. Needs root, losetup, mkfs.ext4, ip and python3.
set -eu

BUSY_DIR=${BUSY_DIR:-/var/tmp/reemploi-busy}
LOOPS=${BUSY_LOOPS:-"0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"}
NAMESPACES=${BUSY_NAMESPACES:-"lab0 lab1 reemploi r5t0 r5c target0"}
PORTS=${BUSY_PORTS:-"2222 5432 8000 8080 8022"}

up() {
    mkdir -p "$BUSY_DIR/files" "$BUSY_DIR/mnt"
    : >>"$BUSY_DIR/loops"
    : >>"$BUSY_DIR/mounts"
    : >>"$BUSY_DIR/netns"
    : >>"$BUSY_DIR/links"
    : >>"$BUSY_DIR/pids"
    for n in $LOOPS; do
        node=/dev/loop$n
        [ -b "$node" ] || mknod -m 0660 "$node" b 7 "$n"
        if losetup "$node" >/dev/null 2>&1; then
            continue # bound by someone else: already busy
        fi
        file="$BUSY_DIR/files/loop$n.img"
        truncate -s 8M "$file"
        mkfs.ext4 -q -F -L "busy$n" "$file"
        if losetup "$node" "$file" 2>/dev/null; then
            echo "$node" >>"$BUSY_DIR/loops"
            if [ $((n % 4)) -eq 0 ]; then
                mkdir -p "$BUSY_DIR/mnt/loop$n"
                mount "$node" "$BUSY_DIR/mnt/loop$n"
                echo "$BUSY_DIR/mnt/loop$n" >>"$BUSY_DIR/mounts"
            fi
        else
            rm -f "$file" # taken between our check and our bind
        fi
    done
    for name in $NAMESPACES; do
        if ip netns add "busy-$name" 2>/dev/null; then
            echo "busy-$name" >>"$BUSY_DIR/netns"
        fi
        if [ ! -e "/run/netns/$name" ] && ip netns add "$name" 2>/dev/null; then
            echo "$name" >>"$BUSY_DIR/netns"
        fi
    done
    if ip link add busyveth0 type veth peer name busyveth1 2>/dev/null; then
        echo busyveth0 >>"$BUSY_DIR/links"
        ip addr add 10.213.0.1/24 dev busyveth0
        ip addr add 10.213.0.2/24 dev busyveth1
        ip link set busyveth0 up
        ip link set busyveth1 up
    fi
    for port in $PORTS; do
        python3 - "$port" busy-listener >/dev/null 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen()
time.sleep(10**9)
EOF
        echo $! >>"$BUSY_DIR/pids"
    done
    sleep 0.5
    echo "busy: $(wc -l <"$BUSY_DIR/loops") loop device(s), $(wc -l <"$BUSY_DIR/netns")" \
        "namespace(s), listeners on $PORTS (a port already taken is skipped by its listener)"
}

down() {
    [ -d "$BUSY_DIR" ] || return 0
    if [ -f "$BUSY_DIR/pids" ]; then
        while read -r pid; do
            # The pid is ours only while it is still our listener.
            if grep -q busy-listener "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid"; fi
        done <"$BUSY_DIR/pids"
    fi
    if [ -f "$BUSY_DIR/mounts" ]; then
        while read -r dir; do umount "$dir" 2>/dev/null || true; done <"$BUSY_DIR/mounts"
    fi
    if [ -f "$BUSY_DIR/loops" ]; then
        while read -r node; do
            # Only if it is still bound to our file: the name may have been reused since.
            case "$(losetup -n -O BACK-FILE "$node" 2>/dev/null)" in
            "$BUSY_DIR"/files/*) losetup -d "$node" ;;
            esac
        done <"$BUSY_DIR/loops"
    fi
    if [ -f "$BUSY_DIR/links" ]; then
        while read -r link; do ip link del "$link" 2>/dev/null || true; done <"$BUSY_DIR/links"
    fi
    if [ -f "$BUSY_DIR/netns" ]; then
        while read -r name; do ip netns del "$name" 2>/dev/null || true; done <"$BUSY_DIR/netns"
    fi
    rm -rf "$BUSY_DIR"
    echo "busy: released"
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
