/*
 * Stand-in for the generated <vnode_if.h>.
 *
 * FreeBSD generates vnode_if.h from sys/kern/vnode_if.src at kernel build
 * time; the installed headers we build against do not ship it.  This file
 * declares only the vnode operations kqdafs calls, transcribed from the
 * argument lists in sys/kern/vnode_if.src.  Add an operation here only when
 * the module calls it.
 */
#ifndef _KQDAFS_VNODE_IF_H_
#define	_KQDAFS_VNODE_IF_H_

struct vnode;
struct vop_vector;

#endif /* !_KQDAFS_VNODE_IF_H_ */
