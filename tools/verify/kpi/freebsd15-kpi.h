/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "universe" of FreeBSD 15 kernel headers from which kqdafs-verify
 * derives the kernel KPI symbol list (`kqdafs-verify kpi-list`): every
 * function and extern variable that bindgen sees declared here is taken to be
 * a symbol the kernel provides to modules.  Nothing in the list is typed by
 * hand; to allow a new KPI, include the header that declares it.
 *
 * Parsed with: -target x86_64-unknown-freebsd15.0 -D_KERNEL -DKLD_MODULE
 *   -D__FreeBSD_version=1500001 -nostdinc -I<zig>/x86_64-freebsd-none
 *   -I<zig>/generic-freebsd -I<repo>/bindings/include -include opt_global.h
 *
 * Every header below has been checked to parse with those flags, in this
 * order.  Not available from the installed-header set we build against, and
 * therefore not included:
 *   - sys/epoch.h, sys/ck.h, sys/interrupt.h, net/if_var.h: need the
 *     ConcurrencyKit headers (ck_epoch.h, ck_queue.h), which are not
 *     installed.  (sys/smr.h parses and is included.)
 *   - sys/bus.h, sys/gtaskqueue.h: need the generated device_if.h/bus_if.h.
 *   - the generated vnode_if.h: bindings/include/vnode_if.h is only a
 *     stand-in declaring what kqdafs uses, so only those VOP_*_AP,
 *     VOP_*_APV and vop_*_desc symbols are listed (through sys/vnode.h).
 *   - sys/exterrvar.h: must be included with an error category defined.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/linker.h>
#include <sys/malloc.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/sx.h>
#include <sys/rwlock.h>
#include <sys/rmlock.h>
#include <sys/lockmgr.h>
#include <sys/condvar.h>
#include <sys/sleepqueue.h>
#include <sys/turnstile.h>
#include <sys/callout.h>
#include <sys/event.h>
#include <sys/eventhandler.h>
#include <sys/selinfo.h>
#include <sys/poll.h>
#include <sys/conf.h>
#include <sys/sysctl.h>
#include <sys/file.h>
#include <sys/filedesc.h>
#include <sys/proc.h>
#include <sys/ucred.h>
#include <sys/priv.h>
#include <sys/jail.h>
#include <sys/uio.h>
#include <sys/buf.h>
#include <sys/bio.h>
#include <sys/vnode.h>
#include <sys/mount.h>
#include <sys/namei.h>
#include <sys/taskqueue.h>
#include <sys/kthread.h>
#include <sys/capsicum.h>
#include <sys/caprights.h>
#include <sys/fcntl.h>
#include <sys/stat.h>
#include <sys/limits.h>
#include <sys/ktr.h>
#include <sys/resourcevar.h>
#include <sys/signalvar.h>
#include <sys/racct.h>
#include <sys/socket.h>
#include <sys/socketvar.h>
#include <sys/sockbuf.h>
#include <sys/mbuf.h>
#include <sys/sbuf.h>
#include <sys/aio.h>
#include <sys/refcount.h>
#include <sys/counter.h>
#include <sys/smp.h>
#include <sys/pcpu.h>
#include <sys/sched.h>
#include <sys/smr.h>
#include <sys/sdt.h>
#include <sys/syscallsubr.h>
#include <sys/sysproto.h>
#include <sys/sysent.h>
#include <sys/time.h>
#include <sys/timetc.h>
#include <sys/random.h>
#include <sys/fail.h>
#include <sys/kdb.h>
#include <sys/ktrace.h>
#include <sys/syslog.h>
#include <sys/user.h>
#include <sys/vmmeter.h>
#include <sys/sglist.h>
#include <sys/umtxvar.h>
#include <sys/pipe.h>
#include <sys/tty.h>
#include <sys/cons.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/reboot.h>
#include <sys/imgact.h>
#include <sys/mac.h>
#include <sys/protosw.h>
#include <sys/domain.h>
#include <sys/un.h>
#include <sys/disk.h>
#include <sys/devicestat.h>
#include <sys/extattr.h>
#include <sys/acl.h>
#include <sys/dirent.h>
#include <sys/vmem.h>
#include <sys/hash.h>
#include <sys/osd.h>
#include <sys/kobj.h>
#include <sys/sf_buf.h>
#include <sys/kenv.h>
#include <sys/procdesc.h>
#include <sys/stack.h>
#include <sys/buf_ring.h>
#include <sys/memdesc.h>
#include <machine/bus.h>
#include <sys/bus_dma.h>
#include <sys/rangelock.h>
#include <sys/pctrie.h>
#include <sys/tslog.h>
#include <sys/fnv_hash.h>
#include <sys/clock.h>
#include <sys/blockcount.h>
#include <sys/seqc.h>
#include <sys/rman.h>
#include <vm/vm.h>
#include <vm/vm_param.h>
#include <vm/vm_extern.h>
#include <vm/vm_page.h>
#include <vm/vm_phys.h>
#include <vm/vm_object.h>
#include <vm/vm_pager.h>
#include <vm/vm_pageout.h>
#include <vm/vm_kern.h>
#include <vm/vm_map.h>
#include <vm/pmap.h>
#include <vm/uma.h>
#include <vm/swap_pager.h>
#include <vm/vnode_pager.h>
#include <machine/atomic.h>
#include <machine/cpufunc.h>
#include <machine/md_var.h>
#include <machine/pcb.h>
#include <machine/stdarg.h>
#include <net/if.h>
#include <net/vnet.h>
#include <netinet/in.h>
