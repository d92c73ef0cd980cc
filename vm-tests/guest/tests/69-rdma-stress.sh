#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# RDMA stress (bin/rdma_stress -k): KQDAFS_STRESS_PROCS processes (default
# 8) for KQDAFS_STRESS_SECS seconds (default 40), each with hundreds of
# WRITE/READ/SEND/RECV work requests in flight on its own regions and
# endpoint pairs, checking every event, cancelling some, closing pairs and
# kqueues mid-flight, killed with SIGKILL at random and respawned.  Then
# rdma_mrs, rdma_endpoints, rdma_pinned_bytes and the in-flight count must
# be 0 and the module must unload cleanly.
. "$(dirname "$0")/../lib.sh"

procs=${KQDAFS_STRESS_PROCS:-8}
secs=${KQDAFS_STRESS_SECS:-40}
kaio_load
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT
rc=0
run_prog rdma_stress -k -p "$procs" -t "$secs" || rc=1
kaio_teardown "$rc" rdma_stress
rdma_finish
exit 0
