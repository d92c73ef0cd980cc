/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of the kernel linker and module subsystem for the
 * modules linked into a simulation: kldload/kldunload of a linked-in
 * module, with the linker file's reference counts.  Sources read (the
 * 15-era sys/kern/kern_linker.c of CHERI-Alliance/freebsd-src, 16-CURRENT
 * just after the stable/15 branch): kern_kldload, kern_kldunload,
 * linker_load_module, linker_load_file, linker_make_file,
 * linker_load_dependencies, linker_file_add_dependency,
 * linker_file_unload, linker_file_register_modules, linker_file_sysinit,
 * linker_file_sysuninit, linker_file_register_sysctls; sys/kern/
 * kern_module.c (module_register_init, module_quiesce, module_unload,
 * module_release); sys/kern/link_elf_obj.c (link_elf_load_file: a fresh
 * image per load, linker_load_dependencies before the relocations, and
 * linker_file_unload(lf, LINKER_UNLOAD_FORCE) on an error); sys/sys/
 * module.h, sys/sys/linker.h.
 *
 * Not modelled: the kernel file (linker_kernel_file; every file's
 * dependency on it is a reference the kernel never drops), the
 * kld_unload_try/kld_unload event handlers (nothing in a simulation
 * registers one), securelevel and priv_check.
 */
#include "ksim.h"

#include <sys/linker.h>
#include <sys/module.h>
#include <sys/sysctl.h>

/* The linker sets and data of each linked-in module (sim/link/mkmodule). */
#define	KSIM_SET(mod, set)						\
	extern void *__start_##mod##_set_##set[] __weak_symbol;		\
	extern void *__stop_##mod##_set_##set[] __weak_symbol
KSIM_SET(kqdafs, sysinit_set);
KSIM_SET(kqdafs, sysuninit_set);
KSIM_SET(kqdafs, modmetadata_set);
KSIM_SET(kqdafs, sysctl_set);
KSIM_SET(kqdafs_consumer_test, sysinit_set);
KSIM_SET(kqdafs_consumer_test, sysuninit_set);
KSIM_SET(kqdafs_consumer_test, modmetadata_set);
KSIM_SET(kqdafs_consumer_test, sysctl_set);
extern char __start_kqdafs_text[] __weak_symbol;
extern char __stop_kqdafs_text[] __weak_symbol;
extern char __start_kqdafs_consumer_test_text[] __weak_symbol;
extern char __stop_kqdafs_consumer_test_text[] __weak_symbol;
extern char __start_kqdafs_state[] __weak_symbol;
extern char __stop_kqdafs_state[] __weak_symbol;
extern char __start_kqdafs_consumer_test_state[] __weak_symbol;
extern char __stop_kqdafs_consumer_test_state[] __weak_symbol;

#define	KSIM_MAXDEPS	4

struct ksim_kmod {
	const char	*km_name;
	void		**km_si[2], **km_su[2], **km_md[2], **km_sc[2];
	char		*km_state[2];
	char		*km_text[2];
	char		*km_snapshot;	/* the image's data as linked */
	int		 km_loaded;	/* on linker_files */
	int		 km_loads;
	const moduledata_t *km_data;	/* MDT_MODULE */
	int		 km_mod_alive;	/* MOD_LOAD succeeded */
	/* struct linker_file (sys/sys/linker.h) */
	int		 km_refs;	/* refs: loads and dependants */
	int		 km_userrefs;	/* userrefs: kldload(2)s */
	int		 km_linked;	/* flags & LINKER_FILE_LINKED */
	int		 km_listed;	/* its MDT_VERSIONs in found_modules */
	int		 km_ndeps;	/* ndeps */
	struct ksim_kmod *km_deps[KSIM_MAXDEPS]; /* deps */
	/* A .ko of it lies in kern.module_path (linker_search_module). */
	int		 km_in_path;
};

#define	KSIM_KMOD(n) { #n,						\
	{ __start_##n##_set_sysinit_set, __stop_##n##_set_sysinit_set },\
	{ __start_##n##_set_sysuninit_set, __stop_##n##_set_sysuninit_set },\
	{ __start_##n##_set_modmetadata_set,				\
	    __stop_##n##_set_modmetadata_set },				\
	{ __start_##n##_set_sysctl_set, __stop_##n##_set_sysctl_set },	\
	{ __start_##n##_state, __stop_##n##_state },			\
	{ __start_##n##_text, __stop_##n##_text }, NULL, 0, 0, NULL, 0 }

static struct ksim_kmod ksim_kmods[] = {
	KSIM_KMOD(kqdafs),
	KSIM_KMOD(kqdafs_consumer_test),
};
#define	KSIM_NKMODS	nitems(ksim_kmods)

/* The module whose sysinits run now (module_register_init needs it). */
static struct ksim_kmod *ksim_loading;

void	ksim_sysctl_register_static(struct sysctl_oid *oidp, int reg);
void	ksim_unload_checks(const char *name, const char *state_lo,
	    const char *state_hi);

static struct ksim_kmod *
ksim_kmod_find(const char *name)
{
	size_t i;

	for (i = 0; i < KSIM_NKMODS; i++)
		if (strcmp(ksim_kmods[i].km_name, name) == 0)
			return (&ksim_kmods[i]);
	return (NULL);
}

/* Snapshot every image's data once, before any module code ran. */
void
ksim_linker_boot(void)
{
	size_t i, n;
	struct ksim_kmod *km;

	for (i = 0; i < KSIM_NKMODS; i++) {
		km = &ksim_kmods[i];
		if (km->km_state[0] == NULL || km->km_snapshot != NULL)
			continue;
		n = (size_t)(km->km_state[1] - km->km_state[0]);
		km->km_snapshot = ksim_zalloc(n);
		memcpy(km->km_snapshot, km->km_state[0], n);
	}
}

static int
ksim_sysinit_cmp(const struct sysinit *a, const struct sysinit *b)
{

	if (a->subsystem != b->subsystem)
		return (a->subsystem < b->subsystem ? -1 : 1);
	if (a->order != b->order)
		return (a->order < b->order ? -1 : 1);
	return (0);
}

/*
 * linker_file_sysinit/linker_file_sysuninit (kern_linker.c): the set's
 * entries run sorted by (subsystem, order), stably; uninit in the
 * reverse order.
 */
static void
ksim_run_set(void **lo, void **hi, int reverse)
{
	struct sysinit *si[64], *t;
	int i, j, n;

	n = 0;
	for (; lo < hi; lo++) {
		if (n == (int)nitems(si))
			ksim_failf("sim", "too many sysinits");
		si[n++] = *lo;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && ksim_sysinit_cmp(si[j - 1], si[j]) > 0;
		    j--) {
			t = si[j];
			si[j] = si[j - 1];
			si[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		t = si[reverse ? n - 1 - i : i];
		sim_module_enter("SYSINIT");
		t->func(t->udata);
		sim_module_exit();
	}
}

static int
ksim_modevent(struct ksim_kmod *km, int what)
{
	char what_s[96];
	const char *name;
	size_t n;
	int error;

	name = what == MOD_LOAD ? "MOD_LOAD" : what == MOD_UNLOAD ?
	    "MOD_UNLOAD" : what == MOD_QUIESCE ? "MOD_QUIESCE" :
	    "MOD_SHUTDOWN";
	/* Scenarios count the events sent: "modevent:<module>:<event>". */
	n = ksim_strlcpy(what_s, "modevent:", sizeof(what_s));
	n += ksim_strlcpy(what_s + n, km->km_name, sizeof(what_s) - n);
	n += ksim_strlcpy(what_s + n, ":", sizeof(what_s) - n);
	(void)ksim_strlcpy(what_s + n, name, sizeof(what_s) - n);
	sim_count(what_s);
	sim_module_enter(name);
	error = km->km_data->evhand(NULL, what, km->km_data->priv);
	sim_module_exit();
	return (error);
}

/*
 * module_register_init (kern_module.c), the SYSINIT of DECLARE_MODULE:
 * MOD_LOAD; on failure MOD_UNLOAD, module_release, and a console line.
 */
void
module_register_init(const void *arg)
{
	const moduledata_t *data = arg;
	struct ksim_kmod *km = ksim_loading;
	int error;

	sim_yield();
	if (km == NULL || km->km_data != data)
		ksim_failf("linker", "module_register_init: module named %s "
		    "not found", data->name);
	error = ksim_modevent(km, MOD_LOAD);
	if (error != 0) {
		(void)ksim_modevent(km, MOD_UNLOAD);
		km->km_mod_alive = 0;
		printf("module_register_init: MOD_LOAD (%s, %p, %p) error %d\n",
		    data->name, (void *)data->evhand, data->priv, error);
	} else
		km->km_mod_alive = 1;
}

/*
 * modlist_lookup2 (kern_linker.c): the loaded file that provides module
 * `name` (its MODULE_VERSION, MDT_VERSION, in found_modules from the end
 * of its linker_load_dependencies until its modules unloaded) in a
 * version `verinfo` accepts (the preferred one, else the highest in
 * range); NULL if none.
 * With `in_path` set the search is linker_search_module's instead:
 * a file in kern.module_path that is not loaded.
 */
static struct ksim_kmod *
ksim_modlist_lookup(const char *name, const struct mod_depend *verinfo,
    int in_path)
{
	struct ksim_kmod *km, *best;
	const struct mod_metadata *md;
	size_t i;
	void **p;
	int bestver, ver;

	best = NULL;
	bestver = 0;
	for (i = 0; i < KSIM_NKMODS; i++) {
		km = &ksim_kmods[i];
		if (in_path ? (km->km_loaded || !km->km_in_path) :
		    !km->km_listed)
			continue;
		for (p = km->km_md[0]; p != NULL && p < km->km_md[1]; p++) {
			md = *p;
			if (md->md_type != MDT_VERSION ||
			    strcmp(md->md_cval, name) != 0)
				continue;
			ver = ((const struct mod_version *)md->md_data)->
			    mv_version;
			if (verinfo == NULL ||
			    ver == verinfo->md_ver_preferred)
				return (km);
			if (ver >= verinfo->md_ver_minimum &&
			    ver <= verinfo->md_ver_maximum && ver > bestver) {
				best = km;
				bestver = ver;
			}
		}
	}
	return (best);
}

/* linker_file_add_dependency (kern_linker.c): no reference taken here. */
static void
ksim_add_dependency(struct ksim_kmod *km, struct ksim_kmod *dep)
{

	if (km->km_ndeps == KSIM_MAXDEPS)
		ksim_failf("sim", "%s: too many dependencies", km->km_name);
	km->km_deps[km->km_ndeps++] = dep;
}

static int	ksim_load_module(struct ksim_kmod *km,
		    struct ksim_kmod *parent, const char *modname,
		    const struct mod_depend *verinfo);

/*
 * linker_load_dependencies (kern_linker.c), from link_elf_load_file
 * before the relocations: each MDT_DEPEND that is not the file's own
 * module (nor "kernel", always there) is either loaded already (its file
 * gains a reference and becomes a dependency) or loaded now from the
 * module path (linker_load_module with this file as the parent); if that
 * fails, so does the load ("depends on ... not available").  Then the
 * file's own modules are listed (linker_addmodules).
 */
static int
ksim_load_dependencies(struct ksim_kmod *km)
{
	const struct mod_metadata *md, *nmd;
	struct mod_depend vi;
	struct ksim_kmod *dep;
	void **p, **np;
	int error;

	for (p = km->km_md[0]; p < km->km_md[1]; p++) {
		md = *p;
		if (md->md_type != MDT_VERSION)
			continue;
		/* modlist_lookup(modname, ver): that very version. */
		vi.md_ver_minimum = vi.md_ver_preferred = vi.md_ver_maximum =
		    ((const struct mod_version *)md->md_data)->mv_version;
		if ((dep = ksim_modlist_lookup(md->md_cval, &vi, 0)) != NULL) {
			printf("interface %s.%d already present in the KLD "
			    "'%s.ko'!\n", md->md_cval, vi.md_ver_preferred,
			    dep->km_name);
			return (EEXIST);
		}
	}
	for (p = km->km_md[0]; p < km->km_md[1]; p++) {
		md = *p;
		if (md->md_type != MDT_DEPEND ||
		    strcmp(md->md_cval, "kernel") == 0)
			continue;
		for (np = km->km_md[0]; np < km->km_md[1]; np++) {
			nmd = *np;
			if (nmd->md_type == MDT_VERSION &&
			    strcmp(nmd->md_cval, md->md_cval) == 0)
				break;
		}
		if (np < km->km_md[1])
			continue;	/* a self reference */
		dep = ksim_modlist_lookup(md->md_cval, md->md_data, 0);
		if (dep != NULL) {
			dep->km_refs++;
			ksim_add_dependency(km, dep);
			continue;
		}
		error = ksim_load_module(NULL, km, md->md_cval, md->md_data);
		if (error != 0) {
			printf("KLD %s.ko: depends on %s - not available or "
			    "version mismatch\n", km->km_name, md->md_cval);
			return (error);
		}
	}
	km->km_listed = 1;
	return (0);
}

/*
 * linker_file_unload (kern_linker.c).  While others hold references
 * (dependants, a second load) only one is dropped: answer 0, the file
 * stays.  The last one: MOD_QUIESCE (module_quiesce: EOPNOTSUPP and
 * EINVAL count as yes; a refusal stops the unload unless
 * LINKER_UNLOAD_FORCE), MOD_UNLOAD (module_unload: a refusal stops it,
 * forced or not), module_release; then, if the file was linked, the
 * static sysctls go and the sysuninits run (malloc_uninit among them);
 * then each dependency is unloaded in turn with the same flags, its
 * answer ignored (a dependency that refuses stays loaded, its reference
 * gone); then the image is unmapped: no thread may still run its code.
 */
static int
ksim_file_unload(struct ksim_kmod *km, int flags)
{
	struct ksim_kmod *dep;
	void **p;
	int error, i;

	if (km->km_refs > 1) {
		km->km_refs--;
		return (0);
	}
	if (km->km_mod_alive) {
		error = ksim_modevent(km, MOD_QUIESCE);
		if (error == EOPNOTSUPP || error == EINVAL)
			error = 0;
		if (error != 0 && flags != LINKER_UNLOAD_FORCE)
			return (error);
		error = ksim_modevent(km, MOD_UNLOAD);
		if (error != 0)
			return (error);
		km->km_mod_alive = 0;
	}
	km->km_listed = 0;
	if (km->km_linked) {
		km->km_linked = 0;
		for (p = km->km_sc[0]; p != NULL && p < km->km_sc[1]; p++)
			ksim_sysctl_register_static(*p, 0);
		ksim_run_set(km->km_su[0], km->km_su[1], 1);
	}
	km->km_loaded = 0;
	for (i = 0; i < km->km_ndeps; i++) {
		dep = km->km_deps[i];
		km->km_deps[i] = NULL;
		(void)ksim_file_unload(dep, flags);
	}
	km->km_ndeps = 0;
	km->km_refs = 0;
	ksim_unload_checks(km->km_name, km->km_state[0], km->km_state[1]);
	return (0);
}

/*
 * linker_load_file (kern_linker.c) with link_elf_load_file
 * (link_elf_obj.c): a new linker file (linker_make_file: one reference,
 * no user reference) with a fresh image (the data as linked), its
 * dependencies (an error unloads it with LINKER_UNLOAD_FORCE: the
 * references it took go back), MDT_MODULE registered, static sysctls
 * registered, sysinits run, LINKER_FILE_LINKED; if every module of the
 * file failed MOD_LOAD, the file is unloaded with LINKER_UNLOAD_FORCE
 * and the answer is ENOEXEC.  A dependency that was not found leaves
 * ENOENT ("Nothing found"); any other failure of the image's load is
 * ENOEXEC ("Format not recognized or otherwise unloadable").
 */
static int
ksim_load_file(struct ksim_kmod *km)
{
	struct mod_metadata *md;
	void **p;
	int error;

	km->km_data = NULL;
	for (p = km->km_md[0]; p < km->km_md[1]; p++) {
		md = *p;
		if (md->md_type == MDT_MODULE)
			km->km_data = md->md_data;
	}
	if (km->km_data == NULL)
		ksim_failf("linker", "%s has no MDT_MODULE metadata",
		    km->km_name);
	/* linker_make_file */
	km->km_refs = 1;
	km->km_userrefs = 0;
	km->km_ndeps = 0;
	km->km_linked = 0;
	km->km_listed = 0;
	km->km_mod_alive = 0;
	km->km_loaded = 1;
	/* A fresh image: the data as the linker laid it out. */
	if (km->km_snapshot != NULL)
		memcpy(km->km_state[0], km->km_snapshot,
		    (size_t)(km->km_state[1] - km->km_state[0]));
	error = ksim_load_dependencies(km);
	if (error != 0) {
		(void)ksim_file_unload(km, LINKER_UNLOAD_FORCE);
		return (error == ENOENT || error == EEXIST ? error : ENOEXEC);
	}
	km->km_loads++;
	for (p = km->km_sc[0]; p != NULL && p < km->km_sc[1]; p++)
		ksim_sysctl_register_static(*p, 1);
	ksim_loading = km;
	ksim_run_set(km->km_si[0], km->km_si[1], 0);
	ksim_loading = NULL;
	km->km_linked = 1;
	if (!km->km_mod_alive) {
		(void)ksim_file_unload(km, LINKER_UNLOAD_FORCE);
		return (ENOEXEC);
	}
	return (0);
}

/*
 * linker_load_module (kern_linker.c): by file name (`km`, kldload of a
 * path) or by module name (`modname`: the file of the module path that
 * provides it, linker_search_module); EEXIST if the module is there
 * already (modlist_lookup2) or a file of that name is loaded
 * (linker_find_file_by_name) -- no reference is taken then; ENOENT if
 * no file provides the module; a file that loads but does not provide
 * the version asked for is unloaded again (ENOENT).  With a parent, the
 * new file becomes its dependency: the parent holds the file's first
 * reference.
 */
static int
ksim_load_module(struct ksim_kmod *km, struct ksim_kmod *parent,
    const char *modname, const struct mod_depend *verinfo)
{
	int error;

	if (modname != NULL) {
		if (ksim_modlist_lookup(modname, verinfo, 0) != NULL)
			return (EEXIST);
		km = ksim_modlist_lookup(modname, verinfo, 1);
	}
	if (km == NULL || km->km_md[0] == NULL)
		return (ENOENT);
	if (km->km_loaded)
		return (EEXIST);
	error = ksim_load_file(km);
	if (error != 0)
		return (error);
	if (modname != NULL && verinfo != NULL &&
	    ksim_modlist_lookup(modname, verinfo, 0) == NULL) {
		(void)ksim_file_unload(km, LINKER_UNLOAD_FORCE);
		return (ENOENT);
	}
	if (parent != NULL)
		ksim_add_dependency(parent, km);
	return (0);
}

/*
 * kldload(2) of a linked-in module by its file name: kern_kldload
 * (kern_linker.c) -- linker_load_module, and on success the file's user
 * reference (lf->userrefs++).  A file loaded already answers EEXIST and
 * gains no user reference.
 */
int
ksim_kldload(const char *name)
{
	struct ksim_kmod *km;
	int error;

	km = ksim_kmod_find(name);
	if (km == NULL)
		return (ENOENT);
	error = ksim_load_module(km, NULL, NULL, NULL);
	if (error == 0)
		km->km_userrefs++;
	return (error);
}

/*
 * kldunload(2) (`force`: kldunload -f, LINKER_UNLOAD_FORCE): kern_kldunload
 * (kern_linker.c).  A file without a user reference (one the kernel
 * loaded, as a dependency) is EBUSY ("attempt to unload file that was
 * loaded by the kernel"), forced or not; so is a file with more than one
 * reference -- another file depends on it (its MODULE_DEPEND) -- since
 * FreeBSD commit f43ff3e15c8b ("kern linker: Do not unload a module if
 * it has dependants", PR 274986, in stable/14 and 15).  Otherwise the
 * user reference is dropped and linker_file_unload runs; if that
 * refuses, the user reference comes back and nothing changed.
 */
int
ksim_kldunload(const char *name, int force)
{
	struct ksim_kmod *km;
	int error;

	km = ksim_kmod_find(name);
	if (km == NULL || !km->km_loaded)
		return (ENOENT);
	if (km->km_userrefs == 0) {
		printf("kldunload: attempt to unload file that was loaded by "
		    "the kernel\n");
		return (EBUSY);
	}
	if (km->km_refs > 1)
		return (EBUSY);
	km->km_userrefs--;
	error = ksim_file_unload(km, force ? LINKER_UNLOAD_FORCE :
	    LINKER_UNLOAD_NORMAL);
	if (error != 0)
		km->km_userrefs++;
	return (error);
}

/*
 * The boot's kern.module_path: whether a .ko of module file `name` lies
 * there (linker_search_module finds it, so a MODULE_DEPEND on it loads
 * it).  In the guests of vm-tests the modules lie outside the module
 * path, the default here.
 */
void
ksim_linker_module_path(const char *name, int present)
{
	struct ksim_kmod *km = ksim_kmod_find(name);

	if (km == NULL)
		ksim_failf("sim", "no module file %s", name);
	km->km_in_path = present;
}

/* A module file's reference counts (kldstat's Refs, and userrefs). */
int
ksim_kld_refs(const char *name, int *userrefs)
{
	struct ksim_kmod *km = ksim_kmod_find(name);

	if (km == NULL || !km->km_loaded)
		return (0);
	*userrefs = km->km_userrefs;
	return (km->km_refs);
}

/* Whether a module is loaded now. */
int
ksim_kld_isloaded(const char *name)
{
	struct ksim_kmod *km = ksim_kmod_find(name);

	return (km != NULL && km->km_loaded);
}

/* The module's data section, for checks that pointers lead into it. */
int
ksim_kmod_owns(const char *name, const void *p)
{
	struct ksim_kmod *km = ksim_kmod_find(name);

	return (km != NULL && km->km_state[0] != NULL &&
	    (const char *)p >= km->km_state[0] &&
	    (const char *)p < km->km_state[1]);
}

/*
 * The module's dynamic per-CPU set (DPCPU, sys/pcpu.h): empty, the module
 * defines no DPCPU variable; both bounds at one address.
 */
__asm__(".data\n"
    ".globl __start_set_pcpu\n.globl __stop_set_pcpu\n"
    "__start_set_pcpu:\n__stop_set_pcpu:\n.quad 0\n.text\n");

void	sim_unload_check_threads(const char *name);
const void *ksim_kqueue_slot_fop(int filt);
int	ksim_kqueue_slot_of(const void *fop);
int	ksim_devfs_owned_by(const char *module);
const char *ksim_sysctl_into(const char *lo, const char *hi, int kmod);
int	ksim_kmod_bit(const char *name);

/*
 * What must be true once a module's image is gone (link_elf_obj unmaps
 * it after linker_file_unload): no thread runs its code, no filter slot,
 * device, sysctl or taskqueue of the kernel points into it.
 */
void
ksim_unload_checks(const char *name, const char *lo, const char *hi)
{
	const char *oid;
	int filt;

	sim_unload_check_threads(name);
	for (filt = -1; filt >= -31; filt--) {
		const void *fop = ksim_kqueue_slot_fop(filt);

		if (fop != NULL && (const char *)fop >= lo &&
		    (const char *)fop < hi)
			ksim_failf("unload", "filter slot %d still points into "
			    "the unloaded module %s", filt, name);
	}
	if (ksim_devfs_owned_by(name) != 0)
		ksim_failf("unload", "a device of %s is still in devfs", name);
	if ((oid = ksim_sysctl_into(lo, hi, ksim_kmod_bit(name))) != NULL)
		ksim_failf("unload", "sysctl %s still points into the unloaded "
		    "module %s", oid, name);
}

void	sim_yield_at(uint32_t mask);
void	sim_stack_mask(uint32_t mask);

/*
 * The modules whose code is on the calling thread's stack: a walk of the
 * frame-pointer chain (the module's Rust and C, and the models, keep frame
 * pointers) from the model that called, bit i for ksim_kmods[i].
 */
static uint32_t
ksim_stack_modules(void)
{
	uintptr_t *fp, *next;
	uintptr_t ret;
	uint32_t mask;
	size_t i;
	int n;

	mask = 0;
	fp = __builtin_frame_address(0);
	for (n = 0; n < 512 && fp != NULL; n++) {
		ret = fp[1];
		for (i = 0; i < KSIM_NKMODS; i++)
			if (ksim_kmods[i].km_text[0] != NULL &&
			    ret >= (uintptr_t)ksim_kmods[i].km_text[0] &&
			    ret < (uintptr_t)ksim_kmods[i].km_text[1])
				mask |= 1u << i;
		next = (uintptr_t *)fp[0];
		/* Frames go up the stack; anything else ends the chain. */
		if (next <= fp || (uintptr_t)next - (uintptr_t)fp > 1024 * 1024 ||
		    ((uintptr_t)next & 7) != 0)
			break;
		fp = next;
	}
	return (mask);
}

/* A KPI entry: record what is on the stack, then maybe switch. */
void
ksim_yield(void)
{

	sim_yield_at(ksim_stack_modules());
}

/* Before a model sleeps: record what is on the stack. */
void
ksim_note_stack(void)
{

	sim_stack_mask(ksim_stack_modules());
}

/* Index (bit) of the module whose text holds `pc`, or -1. */
int
ksim_pc_kmod(uintptr_t pc)
{
	size_t i;

	for (i = 0; i < KSIM_NKMODS; i++)
		if (ksim_kmods[i].km_text[0] != NULL &&
		    pc >= (uintptr_t)ksim_kmods[i].km_text[0] &&
		    pc < (uintptr_t)ksim_kmods[i].km_text[1])
			return ((int)i);
	return (-1);
}

/* Bit of module `name` in the masks above. */
int
ksim_kmod_bit(const char *name)
{
	size_t i;

	for (i = 0; i < KSIM_NKMODS; i++)
		if (strcmp(ksim_kmods[i].km_name, name) == 0)
			return ((int)i);
	return (-1);
}
