#!/usr/bin/env bash
# Runs once, as root, while building the base image. Kept as a script (not a long RUN line) so it can be
# linted and read; it leaves no apt lists or caches behind.
set -euo pipefail

MOP_UID=441
MOP_GID=444

# Lean layers for this image and every image built on it: dpkg skips manuals and documentation (copyright
# files are kept) and translations.
install -d /etc/dpkg/dpkg.cfg.d
cat >/etc/dpkg/dpkg.cfg.d/modulus-nodoc <<'DPKG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
DPKG

apt-get update
# Packages present in both Debian and Ubuntu. tini is the init; dumb-init is the fallback on releases
# without tini (e.g. older Ubuntu in phusion/baseimage).
init_package=tini
if ! apt-cache show tini >/dev/null 2>&1; then
  init_package=dumb-init
fi
apt-get install -y --no-install-recommends \
  bash ca-certificates curl git python3 unzip zip "${init_package}"

# No remote logins into a Modulus container: drop any SSH server/client the parent image ships (phusion's
# baseimage has openssh-server started by runit, plus its host-key regeneration hook).
ssh_packages=()
for package in openssh-server openssh-client openssh-sftp-server; do
  if dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q 'install ok installed'; then
    ssh_packages+=("${package}")
  fi
done
if ((${#ssh_packages[@]} > 0)); then
  apt-get purge -y --auto-remove "${ssh_packages[@]}"
fi
rm -rf /etc/service/sshd /etc/my_init.d/00_regen_ssh_host_keys.sh /etc/ssh

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt/* /var/log/dpkg.log

# The user every customer process runs as.
if ! getent group mop >/dev/null; then
  groupadd --system --gid "${MOP_GID}" mop
fi
if ! getent passwd mop >/dev/null; then
  useradd --system --uid "${MOP_UID}" --gid "${MOP_GID}" --home-dir /mnt/home --no-create-home \
    --shell /bin/bash mop
fi

# Our tools. Root-owned, read-only for mop.
install -d -m 0755 -o root -g root /opt/modulus /opt/modulus/bin
case "${init_package}" in
  tini) ln -sf "$(command -v tini)" /opt/modulus/bin/init ;;
  dumb-init) ln -sf "$(command -v dumb-init)" /opt/modulus/bin/init ;;
esac

# The volume layout. At run time a host folder is mounted on /mnt; these directories only matter when
# an image runs without one, so they belong to mop and are the only place it may write.
install -d -m 0755 -o root -g root /mnt
for dir in home tmp input output app log notifications; do
  install -d -m 0750 -o "${MOP_UID}" -g "${MOP_GID}" "/mnt/${dir}"
done
chmod 1770 /mnt/tmp

# mop may not write anywhere else on the image: nothing outside /mnt may be owned by mop or be
# world-writable. The exceptions are /tmp and /var/tmp (sticky, 1777): apt's unprivileged _apt
# sandbox user falls back to /tmp when it cannot use TMPDIR (/mnt/tmp), so child images could not
# apt-get without them. At run time the platform mounts the root filesystem read-only, which closes
# them too; TMPDIR/TEMP_DIR/TMP_DIR send well-behaved tools to /mnt/tmp.
find / -xdev \( -path /mnt -o -path /proc -o -path /sys -o -path /dev \) -prune -o \
  \( -uid "${MOP_UID}" -o -gid "${MOP_GID}" \) -print0 | xargs -0 -r chown -h root:root
find / -xdev \( -path /mnt -o -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/tmp \) \
  -prune -o \( -type d -o -type f \) -perm -0002 -print0 | xargs -0 -r chmod o-w
chmod 1777 /tmp /var/tmp

# No setuid/setgid programs (su, mount, passwd, chsh, ...): nobody in a Modulus container may gain
# privileges, even where no-new-privileges is not set. Each is recorded as a dpkg stat override, so a
# child image that reinstalls or upgrades the package keeps the bits off.
while IFS= read -r -d '' file; do
  read -r owner group mode < <(stat -c '%U %G %a' -- "${file}")
  mode=$(printf '%o' $((8#${mode} & 8#1777)))
  if dpkg-statoverride --list "${file}" >/dev/null; then
    dpkg-statoverride --remove "${file}"
  fi
  dpkg-statoverride --update --add "${owner}" "${group}" "${mode}" "${file}"
done < <(find / -xdev \( -path /mnt -o -path /proc -o -path /sys -o -path /dev \) -prune -o \
  -type f -perm /6000 -print0)
