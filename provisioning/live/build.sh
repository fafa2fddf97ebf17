#!/bin/sh
# Build the workshop's live system.
#   sudo ./build.sh ~/.ssh/reemploi_ed25519.pub            # USB (iso-hybrid)
#   sudo REEMPLOI_LIVE_IMAGE=netboot ./build.sh KEY.pub    # PXE
# The live system's host key is made once and kept in ./secrets (never in git): every PC booted
# from this image presents it, so it is enrolled once with `reemploi image enrol-host --all-hosts`.
set -e
cd "$(dirname "$0")"
pubkey="${1:?usage: build.sh WORKSHOP_PUBLIC_KEY.pub}"
mkdir -p secrets config/includes.chroot/etc/ssh
if [ ! -s secrets/ssh_host_ed25519_key ]; then
  ssh-keygen -q -t ed25519 -N '' -C reemploi-live -f secrets/ssh_host_ed25519_key
fi
install -m 600 secrets/ssh_host_ed25519_key config/includes.chroot/etc/ssh/ssh_host_ed25519_key
install -m 644 secrets/ssh_host_ed25519_key.pub config/includes.chroot/etc/ssh/ssh_host_ed25519_key.pub
install -m 600 "$pubkey" config/includes.chroot/etc/ssh/reemploi_authorized_keys
lb clean
lb config
lb build
echo "Empreinte à inscrire : $(ssh-keygen -l -f secrets/ssh_host_ed25519_key.pub)"
