// SPDX-License-Identifier: BSD-2-Clause
//! The inbound edge: every function the kernel and other modules call
//! into the module through.
//!
//! * [`entry`]: the module event handler, the `/dev/kqdafs` cdevsw methods
//!   and its cdevpriv destructor, the kevent filterops (pointed at by the
//!   static data of `kmod/kqdafs_edge_module.c`);
//! * [`kapi`]: the exported kernel consumer API, `kqdafs_kapi(9)`
//!   (`kmod/kqdafs_edge_kapi.c` forwards to it);
//! * [`rdma_provider`]: the exported NIC provider interface,
//!   `kqdafs_rdma_provider(9)` (`kmod/kqdafs_edge_rdma_provider.c`).
//!
//! This is the top layer: it may import every layer below it, and nothing
//! imports it (`tools/layering.py`, `docs/architecture.md`).  Raw pointers
//! the caller passes are checked and turned into safe types here, so it is
//! one of the two places `unsafe` may be written (the other is
//! [`crate::kpi`], where the module calls out); each use has a
//! `// SAFETY:` note citing the caller's contract.  No logic lives here:
//! what an entry means is in `module`, `device`, `filter` and the
//! features.

pub mod entry;
pub mod kapi;
pub mod rdma_provider;
