#!/usr/bin/env bash
# Turns a Debian VM into one Baton server, the way a real host would be set
# up: the binary in /usr/local/bin, a system user, the systemd unit from
# ops/systemd and a config derived from ops/config/baton.hcl.
#
#   provision.sh NODE IP PEER_IP...
#   provision.sh baton-1 192.168.56.11 192.168.56.12 192.168.56.13
#
# The binary is not built here (the VM has no Go): run `make build` on the
# host first, for Linux and the VM's architecture. Running the script again
# installs whatever bin/baton is now and restarts the server, which keeps its
# data and Raft membership.
#
# BATON_SRC is the repository as the VM sees it (/vagrant by default).
set -euo pipefail

BATON_SRC="${BATON_SRC:-/vagrant}"
API_PORT=7420
RAFT_PORT=7421
SERF_PORT=7422

die() {
  echo "provision: $*" >&2
  exit 1
}

# render_config NODE IP PEER_IP... prints the example config with this
# server's name and addresses. Everything else (tags, raft tuning, log
# level) stays as the example has it, so editing the example changes every
# VM.
render_config() {
  local node=$1 ip=$2
  shift 2
  local joins="" peer
  for peer in "$@"; do
    joins+="${joins:+, }\"${peer}:${SERF_PORT}\""
  done
  sed -E \
    -e "s|^node( *)= .*|node\\1= \"${node}\"|" \
    -e "s|^api_addr( *)= .*|api_addr\\1= \"${ip}:${API_PORT}\"|" \
    -e "s|^raft_addr( *)= .*|raft_addr\\1= \"${ip}:${RAFT_PORT}\"|" \
    -e "s|^serf_addr( *)= .*|serf_addr\\1= \"${ip}:${SERF_PORT}\"|" \
    -e "s|^bootstrap_expect( *)= .*|bootstrap_expect\\1= $(($# + 1))|" \
    -e "s|^retry_join( *)= .*|retry_join\\1= [${joins}]|" \
    "${BATON_SRC}/ops/config/baton.hcl"
}

main() {
  [[ $# -ge 2 ]] || die "usage: provision.sh NODE IP PEER_IP..."
  [[ ${EUID} -eq 0 ]] || die "run as root"
  local node=$1 ip=$2
  shift 2

  local bin="${BATON_SRC}/bin/baton"
  [[ -f ${bin} ]] || die "${bin} is missing: run 'make build' on the host (GOOS=linux on other systems), then 'vagrant provision'"
  # A binary built for the host's OS or CPU fails here, not in systemd.
  "${bin}" --help >/dev/null 2>&1 ||
    die "${bin} does not run on this VM ($(uname -sm)); build it with GOOS=linux GOARCH=<arch> make build"

  install -m 0755 "${bin}" /usr/local/bin/baton

  if ! getent passwd baton >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/baton --no-create-home \
      --shell /usr/sbin/nologin baton
  fi

  # Written to a temporary file first so a failed render never leaves a
  # half-written config for systemd to restart with.
  install -d -o root -g baton -m 0750 /etc/baton
  local tmp
  tmp=$(mktemp /etc/baton/.baton.hcl.XXXXXX)
  render_config "${node}" "${ip}" "$@" >"${tmp}"
  grep -q "^node *= \"${node}\"" "${tmp}" || die "could not set node in the config; has ops/config/baton.hcl changed shape?"
  grep -q "^serf_addr *= \"${ip}:${SERF_PORT}\"" "${tmp}" || die "could not set the addresses in the config"
  chown root:baton "${tmp}"
  chmod 0640 "${tmp}"
  mv "${tmp}" /etc/baton/baton.hcl

  # The server listens on the VM's private IP only, so the CLI's default
  # of 127.0.0.1 would find nothing.
  printf 'export BATON_ADDR=http://%s:%s\n' "${ip}" "${API_PORT}" >/etc/profile.d/baton.sh

  install -m 0644 "${BATON_SRC}/ops/systemd/baton.service" /etc/systemd/system/baton.service
  install -D -m 0644 "${BATON_SRC}/README.md" /usr/share/doc/baton/README.md
  local member=false
  [[ -e /var/lib/baton/raft/raft.db ]] && member=true
  systemctl daemon-reload
  systemctl enable baton.service
  systemctl restart baton.service

  local addr="http://${ip}:${API_PORT}" i
  for i in $(seq 1 60); do
    if /usr/local/bin/baton status --address "${addr}" >/dev/null 2>&1; then
      break
    fi
    if [[ ${i} -eq 60 ]] || { [[ ${i} -gt 5 ]] && ! systemctl is-active --quiet baton.service; }; then
      journalctl -u baton.service -n 30 --no-pager >&2 || true
      die "${node}: the API on ${addr} did not answer"
    fi
    sleep 1
  done
  echo "provision: ${node} is serving on ${addr}"

  # On first boot a leader needs VMs that may not exist yet, so only a
  # server that was already a member waits for one. That makes
  # `vagrant provision` a rolling restart: the next VM is not touched until
  # this one is back in the cluster.
  if ${member}; then
    for i in $(seq 1 60); do
      if /usr/local/bin/baton status --address "${addr}" -o json 2>/dev/null | grep -q '"leader_id"'; then
        echo "provision: ${node} rejoined the cluster"
        return 0
      fi
      sleep 1
    done
    die "${node}: no leader 60s after the restart; see 'journalctl -u baton'"
  fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
