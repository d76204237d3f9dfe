#!/usr/bin/env bash
# PID 1 of host B: starts dockerd (own socket, exec-root, pidfile and data root; no bridge, no iptables) and sshd
# (127.0.0.1:$HOST_B_SSH_PORT only, key-only auth for root with $HOST_B_AUTHORIZED_KEY), prints "host-b ready"
# once both answer, and on SIGTERM stops dockerd's containers, dockerd and sshd.
#   HOST_B_SSH_PORT        the port sshd listens on (127.0.0.1 only); required
#   HOST_B_AUTHORIZED_KEY  the one public key allowed to log in as root; required
#   HOST_B_CGROUP_PARENT   parent cgroup of the engine's containers (default /modulus-host-b), kept apart from A's
set -euo pipefail

port="${HOST_B_SSH_PORT:?HOST_B_SSH_PORT is required}"
key="${HOST_B_AUTHORIZED_KEY:?HOST_B_AUTHORIZED_KEY is required}"
cgroup_parent="${HOST_B_CGROUP_PARENT:-/modulus-host-b}"

log() { printf '[host-b] %s\n' "$*"; }

# /run is a tmpfs of this container (docker run --tmpfs /run); sshd needs its privilege-separation folder.
mkdir -p /run/sshd /var/run/docker /var/lib/modulus

printf '%s\n' "$key" > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys

# Debian's stock host keys (rsa, ecdsa, ed25519), as openssh-server's postinst makes them; sshd offers them all.
ssh-keygen -A
cat > /etc/ssh/sshd_config.d/host-b.conf <<CONF
ListenAddress 127.0.0.1
Port ${port}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
PidFile /run/sshd.pid
# Stock: 10:30:100. A deploy opens more connections at once than that (the Docker provider's engine connections,
# which nothing retries, beside the steps and probes), as the README says of production hosts.
MaxStartups 100:30:200
CONF
# Debian's sshd_config leaves Port/ListenAddress unset, so the drop-in above decides them.
/usr/sbin/sshd -t

dockerd \
  --host unix:///var/run/docker.sock \
  --exec-root /var/run/docker \
  --pidfile /var/run/docker.pid \
  --data-root /var/lib/docker \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
  --cgroup-parent "$cgroup_parent" \
  --storage-driver overlay2 \
  >/var/log/dockerd.log 2>&1 &
dockerd_pid=$!

/usr/sbin/sshd -D -e >/var/log/sshd.log 2>&1 &
sshd_pid=$!

stopping=0
shutdown() {
  stopping=1
  log "stopping"
  if docker info >/dev/null 2>&1; then
    mapfile -t ids < <(docker ps -aq)
    if ((${#ids[@]})); then docker rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
  fi
  # Loop volumes mounted over SSH: unmounting frees their loop devices (mount -o loop sets autoclear).
  mapfile -t mounts < <(findmnt -rn -o TARGET | grep '^/var/lib/modulus/' | sort -r || true)
  for target in "${mounts[@]}"; do umount "$target" || umount -l "$target" || true; done
  kill -TERM "$sshd_pid" 2>/dev/null || true
  kill -TERM "$dockerd_pid" 2>/dev/null || true
  wait "$dockerd_pid" 2>/dev/null || true
  wait "$sshd_pid" 2>/dev/null || true
  log "stopped"
  exit 0
}
trap shutdown TERM INT

for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then break; fi
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    log "dockerd exited early:"; tail -n 50 /var/log/dockerd.log; exit 1
  fi
  sleep 0.5
done
docker info >/dev/null 2>&1 || { log "dockerd did not answer in 60 s:"; tail -n 50 /var/log/dockerd.log; exit 1; }
kill -0 "$sshd_pid" 2>/dev/null || { log "sshd exited early:"; cat /var/log/sshd.log; exit 1; }

log "host key $(cat /etc/ssh/ssh_host_ed25519_key.pub)"
log "ready: dockerd $(docker version --format '{{.Server.Version}}'), sshd on 127.0.0.1:${port}"

while ((stopping == 0)); do
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then log "dockerd died:"; tail -n 50 /var/log/dockerd.log; exit 1; fi
  if ! kill -0 "$sshd_pid" 2>/dev/null; then log "sshd died:"; tail -n 50 /var/log/sshd.log; exit 1; fi
  sleep 1 & wait $! || true
done
