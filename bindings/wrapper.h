/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Input to bindgen (see build.rs): the FreeBSD 15 kernel headers kqdafs
 * uses, plus the prototypes of the module's own C glue.  Rust's raw FFI
 * layer (src/sys.rs) is generated from this file at build time; no kernel
 * struct layout is written by hand.
 */
#include "../kmod/kqdafs_glue.h"
#include "../kmod/kqdafs_kpi_rdma.h"
#include "../kmod/kqdafs_edge_kapi.h"
#include "../kmod/kqdafs_edge_rdma_provider.h"
#include <sys/errno.h>
#include <sys/ioccom.h>
#include <sys/user.h>	/* struct kinfo_knote, KNOTE_EXTDATA_* (f_userdump) */
