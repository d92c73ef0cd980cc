/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs_slothog: a test-only module that takes the kqueue filter slot
 * kqdafs needs on a stock kernel (-12), so that the VM suite can check that
 * kqdafs then refuses to load, cleanly.  It registers a filter whose attach
 * always fails, and gives the slot back on unload.
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/errno.h>
#include <sys/event.h>

#define	SLOTHOG_SLOT	(-12)

static int
slothog_attach(struct knote *kn __unused)
{

	return (ENXIO);
}

static struct filterops slothog_filtops = {
	.f_isfd = 0,
	.f_attach = slothog_attach,
};

/*
 * Whether MOD_LOAD claimed the slot: after a failed load the kernel still
 * sends MOD_UNLOAD, which must not remove somebody else's filter.
 */
static bool slothog_registered;

static int
slothog_modevent(module_t mod __unused, int what, void *arg __unused)
{
	int error;

	switch (what) {
	case MOD_LOAD:
		error = kqueue_add_filteropts(SLOTHOG_SLOT, &slothog_filtops);
		if (error != 0) {
			printf("kqdafs_slothog: slot %d: error %d\n",
			    SLOTHOG_SLOT, error);
			return (error);
		}
		slothog_registered = true;
		return (0);
	case MOD_UNLOAD:
		if (!slothog_registered)
			return (0);
		error = kqueue_del_filteropts(SLOTHOG_SLOT);
		if (error == 0)
			slothog_registered = false;
		return (error);
	case MOD_QUIESCE:
	case MOD_SHUTDOWN:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t slothog_mod = {
	"kqdafs_slothog",
	slothog_modevent,
	NULL
};

DECLARE_MODULE(kqdafs_slothog, slothog_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(kqdafs_slothog, 1);
