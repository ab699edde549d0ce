# Example server config for a three-node cluster. Copy to /etc/baton/baton.hcl
# on each server and change node and the three addresses.
node             = "baton-1"
data_dir         = "/var/lib/baton"
api_addr         = "192.168.56.11:7420"
raft_addr        = "192.168.56.11:7421"
serf_addr        = "192.168.56.11:7422"
bootstrap_expect = 3
retry_join       = ["192.168.56.12:7422", "192.168.56.13:7422"]
log_level        = "info"

tags {
  pool = "default"
}

raft {
  snapshot_threshold = 8192
  snapshot_interval  = "5s"
  trailing_logs      = 10240
  heartbeat_timeout  = "500ms"
  election_timeout   = "500ms"
  leader_lease_timeout = "500ms"
}
