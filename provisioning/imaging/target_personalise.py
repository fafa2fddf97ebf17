"""Personalisation of the installed system, run by the live system's python3 (stdlib only).

Shipped beside `target_agent.py`; `personalise(root, spec)` writes into the mounted root.
"""

import json
import os
import shutil
import subprocess
import uuid


def sh(*args):
    done = subprocess.run(list(args), capture_output=True)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise RuntimeError(f"{args[0]}: {message[-400:]}")
    return done


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _lines(path):
    return _read(path).splitlines() if os.path.exists(path) else []


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def add_account(root, account):
    name = account["name"]
    passwd = _lines(f"{root}/etc/passwd")
    if any(line.split(":")[0] == name for line in passwd):
        return
    used = {int(line.split(":")[2]) for line in passwd if line.count(":") >= 6}
    uid = next(u for u in range(1000, 60000) if u not in used)
    home = f"/home/{name}"
    passwd.append(f"{name}:x:{uid}:{uid}:{account.get('full_name', name)},,,:{home}:/bin/bash")
    _write(f"{root}/etc/passwd", "\n".join(passwd) + "\n")
    # Empty password that must be changed at first login (last change = day 0).
    shadow = _lines(f"{root}/etc/shadow") + [f"{name}::0:0:99999:7:::"]
    _write(f"{root}/etc/shadow", "\n".join(shadow) + "\n", 0o640)
    groups = []
    for line in _lines(f"{root}/etc/group"):
        fields = line.split(":")
        if len(fields) == 4 and fields[0] in account.get("groups", []):
            members = [m for m in fields[3].split(",") if m] + [name]
            fields[3] = ",".join(members)
        groups.append(":".join(fields))
    groups.append(f"{name}:x:{uid}:")
    _write(f"{root}/etc/group", "\n".join(groups) + "\n")
    target = f"{root}{home}"
    if os.path.isdir(f"{root}/etc/skel") and not os.path.exists(target):
        shutil.copytree(f"{root}/etc/skel", target, symlinks=True)
    os.makedirs(target, exist_ok=True)
    for base, dirs, files in os.walk(target):
        for entry in [base] + [os.path.join(base, x) for x in dirs + files]:
            os.lchown(entry, uid, uid)


FIRST_BOOT = """[Unit]
Description={description}
ConditionPathExists={condition}
Before=ssh.service

[Service]
Type=oneshot
ExecStart={command}

[Install]
WantedBy=multi-user.target
"""


def _first_boot_unit(root, name, description, condition, command):
    _write(
        f"{root}/etc/systemd/system/{name}",
        FIRST_BOOT.format(description=description, condition=condition, command=command),
    )
    wants = f"{root}/etc/systemd/system/multi-user.target.wants"
    os.makedirs(wants, exist_ok=True)
    link = f"{wants}/{name}"
    if not os.path.lexists(link):
        os.symlink(f"/etc/systemd/system/{name}", link)


# The school profile's parental control, written into the image without any network: filtering
# DNS for the whole system (Cloudflare for Families: adult content and malware), safe search
# pinned in /etc/hosts, and browser policies that stop DNS over HTTPS from going around it.
FAMILY_DNS = ("1.1.1.3", "1.0.0.3", "2606:4700:4700::1113", "2606:4700:4700::1003")
# Google's, YouTube's and Bing's documented safe-search addresses (forcesafesearch.google.com,
# restrict.youtube.com, strict.bing.com), as each vendor asks networks to pin them.
SAFE_SEARCH = {
    "216.239.38.120": ("www.google.com", "google.com", "www.google.fr", "google.fr"),
    "216.239.38.119": ("www.youtube.com", "m.youtube.com", "youtubei.googleapis.com"),
    "204.79.197.220": ("www.bing.com", "bing.com"),
}
HOSTS_BEGIN = "# reemploi: contrôle parental (début)"
HOSTS_END = "# reemploi: contrôle parental (fin)"
FAMILY_FILES = {
    "etc/systemd/resolved.conf.d/reemploi-famille.conf": (
        "# Contrôle parental du profil École (Réemploi) : DNS filtrants, sans secours.\n"
        "[Resolve]\nDNS={dns}\nFallbackDNS=\nDomains=~.\nDNSOverTLS=no\n"
    ),
    "etc/NetworkManager/conf.d/reemploi-famille.conf": (
        "# Contrôle parental du profil École (Réemploi) : ces DNS passent avant ceux du réseau.\n"
        "[global-dns-domain-*]\nservers={dns_commas}\n"
    ),
    "etc/firefox/policies/policies.json": (
        '{{"policies": {{"DNSOverHTTPS": {{"Enabled": false, "Locked": true}}}}}}\n'
    ),
    "usr/lib/firefox-esr/distribution/policies.json": (
        '{{"policies": {{"DNSOverHTTPS": {{"Enabled": false, "Locked": true}}}}}}\n'
    ),
    "etc/chromium/policies/managed/reemploi-famille.json": '{{"DnsOverHttpsMode": "off"}}\n',
}


def family_filter(root):
    """Write the parental control into the mounted root; running it twice changes nothing.
    Returns the files written, relative to the root."""
    values = {"dns": " ".join(FAMILY_DNS), "dns_commas": ",".join(FAMILY_DNS)}
    for relative, template in FAMILY_FILES.items():
        _write(f"{root}/{relative}", template.format(**values))
    hosts = _lines(f"{root}/etc/hosts")
    if HOSTS_BEGIN in hosts:
        hosts = hosts[: hosts.index(HOSTS_BEGIN)] + hosts[hosts.index(HOSTS_END) + 1 :]
    block = [HOSTS_BEGIN]
    block += [f"{address}\t{' '.join(names)}" for address, names in SAFE_SEARCH.items()]
    block.append(HOSTS_END)
    _write(f"{root}/etc/hosts", "\n".join([*hosts, *block]) + "\n")
    return sorted([*FAMILY_FILES, "etc/hosts"])


def personalise(root, spec):
    hostname = spec["hostname"]
    _write(f"{root}/etc/hostname", hostname + "\n")
    hosts = [x for x in _lines(f"{root}/etc/hosts") if not x.startswith("127.0.1.1")]
    _write(f"{root}/etc/hosts", "\n".join([f"127.0.1.1\t{hostname}", *hosts]) + "\n")
    machine_id = uuid.uuid4().hex
    _write(f"{root}/etc/machine-id", machine_id + "\n", 0o444)
    if os.path.isfile(f"{root}/var/lib/dbus/machine-id"):
        os.unlink(f"{root}/var/lib/dbus/machine-id")
    # The image's host keys are shared by every copy: remove them, make this machine's own,
    # and regenerate at first boot should any be missing.
    ssh_dir = f"{root}/etc/ssh"
    os.makedirs(ssh_dir, exist_ok=True)
    for name in os.listdir(ssh_dir):
        if name.startswith("ssh_host_"):
            os.unlink(f"{ssh_dir}/{name}")
    fingerprints = []
    for kind in ("ed25519", "ecdsa"):
        key = f"{ssh_dir}/ssh_host_{kind}_key"
        sh("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{hostname}", "-f", key)
        fingerprints.append(sh("ssh-keygen", "-l", "-f", key + ".pub").stdout.decode().split()[1])
    _first_boot_unit(
        root,
        "reemploi-ssh-hostkeys.service",
        "Clés d'hôte SSH propres à cette machine",
        "!/etc/ssh/ssh_host_ed25519_key",
        "/usr/bin/ssh-keygen -A",
    )
    for account in spec.get("accounts", []):
        add_account(root, account)
    locale = spec.get("locale", "fr_FR.UTF-8")
    _write(f"{root}/etc/default/locale", f"LANG={locale}\n")
    gen = [x for x in _lines(f"{root}/etc/locale.gen") if x.strip() != f"{locale} UTF-8"]
    _write(f"{root}/etc/locale.gen", "\n".join([*gen, f"{locale} UTF-8"]) + "\n")
    keymap = spec.get("keymap", "fr")
    _write(
        f"{root}/etc/default/keyboard",
        f'XKBMODEL="pc105"\nXKBLAYOUT="{keymap}"\nXKBVARIANT=""\nXKBOPTIONS=""\nBACKSPACE="guess"\n',
    )
    _write(f"{root}/etc/vconsole.conf", f"KEYMAP={keymap}\n")
    _write(f"{root}/etc/reemploi/asset.json", json.dumps(spec["asset"], indent=2) + "\n")
    if spec.get("post_install"):
        _write(f"{root}/etc/reemploi/post-install.sh", spec["post_install"], 0o755)
        _first_boot_unit(
            root,
            "reemploi-post-install.service",
            "Script de fin d'installation du profil",
            "!/var/lib/reemploi/post-install.done",
            "/bin/sh -c '/etc/reemploi/post-install.sh && mkdir -p /var/lib/reemploi"
            " && touch /var/lib/reemploi/post-install.done'",
        )
    result = {"machine_id": machine_id, "host_keys": fingerprints}
    # The profile's switch, or its name until the spec carries the profile's `extra`.
    extra = spec.get("extra") or {}
    if extra.get("family_filter") or spec.get("asset", {}).get("profile") == "ecole":
        result["family_filter"] = family_filter(root)
    return result
