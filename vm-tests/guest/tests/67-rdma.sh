#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# EVFILT_RDMA through the loopback provider: bin/rdma_rw (WRITE/READ/SEND/
# RECV byte-exact at many offsets, zero-length, SEND before and after its
# RECV, FIFO RECVs, batches of 256, counters), bin/rdma_errno (every errno
# of POST, REG_MR, DEREG_MR, EP_PAIR, EP_CLOSE and of each work request,
# fault order, EBUSY, ENOSPC, EAGAIN via max_pinned_per_proc and
# max_requests_per_proc), bin/rdma_cancel (cancel -> -ECANCELED, endpoint
# close -> -ECONNRESET, kqueue and descriptor closed with requests
# waiting) and kqdafsctl rdma-selftest (the Rust library end to end).
# Then no region, endpoint or pinned byte left, unload with nothing leaked.
. "$(dirname "$0")/../lib.sh"

kaio_load
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT
rc=0
run_prog rdma_rw || { diag "rdma_rw failed"; rc=1; }
run_prog rdma_errno || { diag "rdma_errno failed"; rc=1; }
run_prog rdma_cancel || { diag "rdma_cancel failed"; rc=1; }
run_prog kqdafsctl rdma-selftest || { diag "kqdafsctl rdma-selftest failed"; rc=1; }
diag "after the programs: $(rdma_counters)"
kaio_teardown "$rc" "rdma_rw/rdma_errno/rdma_cancel/kqdafsctl rdma-selftest"
rdma_finish
exit 0
