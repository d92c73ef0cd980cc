/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rdma_rw: EVFILT_RDMA transfers through the loopback provider, byte-exact.
 *
 * Registers memory regions and a connected endpoint pair, then checks:
 * WRITE and READ at many offsets and lengths (unaligned, page-spanning,
 * whole region, zero-length, at the very end), the bytes around each
 * range untouched; WRITE and READ within one region with overlapping
 * ranges over several pages (as memmove); SEND/RECV with the RECV first and with the SEND first
 * (it waits, quietly, for a RECV); several RECVs filled in FIFO order by
 * SENDs of different lengths; zero-length SEND/RECV; a batch of 256
 * WRITEs and a batch of 128 RECVs + 128 SENDs.  Every event is checked
 * (filter, ident, udata, fflags, data) and arrives exactly once; the
 * rdma_* counters move by what was done and the regions, endpoints and
 * pinned bytes go back to where they were.  TAP.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	RLEN	(1024 * 1024)	/* bytes per region */
#define	NREG	4

static struct kqt k;
static uint8_t *src, *dst, *back, *inbox;
static uint32_t ksrc, kdst, kback, kinbox;
static uint32_t ep[2];
static uint64_t udata_seq = 0x5000;
static int64_t moved;		/* bytes moved (a SEND/RECV pair once) */
static int64_t accepted;	/* requests accepted */

/* Post one; wait for its event; check it.  1 when all is well. */
static int
one(uint32_t op, uint32_t e, uint32_t lkey, uint64_t loff, uint32_t rkey,
    uint64_t roff, uint64_t len, int64_t want)
{
	struct kqdafs_rdma_request r;
	struct kevent ev;
	uint64_t id;
	int err;

	kqt_wr(&r, op, e, k.kq, lkey, loff, rkey, roff, len, ++udata_seq);
	if ((err = kqt_post1(k.dev, &r, &id)) != 0) {
		if (err > 0)
			tap_diag("op %u len %ju refused: %s", op,
			    (uintmax_t)len, kqt_errname(err));
		return (0);
	}
	accepted++;
	if (kqt_collect(k.kq, &ev, 1, KQT_EVENT_TIMEOUT_MS) != 1) {
		tap_diag("no event for op %u id %ju", op, (uintmax_t)id);
		return (0);
	}
	if (want >= 0)
		moved += want;
	return (kqt_rdma_ev_check(&k, &ev, op, id, r.rr_udata, want));
}

/* Fill a region with the pattern shifted by seed, or a constant. */
static void
fill(uint8_t *p, uint64_t seed)
{

	kqt_fill(p, seed, RLEN);
}

/* Are p[off..off+len) == q[qoff..) and the bytes around p's range == c? */
static int
same(const uint8_t *p, uint64_t off, const uint8_t *q, uint64_t qoff,
    uint64_t len, uint8_t c, const char *what)
{
	uint64_t i;

	if (len > 0 && memcmp(p + off, q + qoff, len) != 0) {
		for (i = 0; i < len && p[off + i] == q[qoff + i]; i++)
			;
		tap_diag("%s: byte %ju differs (%#x, expected %#x)", what,
		    (uintmax_t)i, p[off + i], q[qoff + i]);
		return (0);
	}
	for (i = 0; i < off; i++)
		if (p[i] != c) {
			tap_diag("%s: byte %ju before the range changed", what,
			    (uintmax_t)i);
			return (0);
		}
	for (i = off + len; i < RLEN; i++)
		if (p[i] != c) {
			tap_diag("%s: byte %ju after the range changed", what,
			    (uintmax_t)i);
			return (0);
		}
	return (1);
}

static const struct {
	uint64_t	loff, roff, len;
} cases[] = {
	{ 0, 0, 1 },
	{ 1, 4095, 4097 },
	{ 4096, 0, 65536 },
	{ 123, 456, 300000 },
	{ 4095, 8191, 2 },
	{ 0, 0, RLEN },
	{ 7, 3, RLEN - 7 },
	{ RLEN - 1, 0, 1 },
	{ 0, RLEN - 1, 1 },
	{ 0, 0, 0 },
	{ RLEN, RLEN, 0 },
};
#define	NCASES	(sizeof(cases) / sizeof(cases[0]))

/* WRITE/READ within one region, the two ranges overlapping. */
static const struct {
	uint32_t	op;
	uint64_t	loff, roff, len;
} overlaps[] = {
	{ KQDAFS_RDMA_WRITE, 0, 1, 3 * 4096 },		/* dst after src */
	{ KQDAFS_RDMA_WRITE, 100, 4196 + 17, 5 * 4096 + 3 },
	{ KQDAFS_RDMA_WRITE, 4097, 5, 4 * 4096 },	/* dst before src */
	{ KQDAFS_RDMA_READ, 4096 + 9, 3, 3 * 4096 },	/* dst after src */
	{ KQDAFS_RDMA_READ, 7, 4096 + 1, 2 * 4096 + 5 },	/* dst before */
};
#define	NOVERLAPS	(sizeof(overlaps) / sizeof(overlaps[0]))

static void
write_read(void)
{
	size_t i;
	int good;

	for (i = 0; i < NCASES; i++) {
		fill(src, i * 7919);
		memset(dst, 0xee, RLEN);
		good = one(KQDAFS_RDMA_WRITE, ep[0], ksrc, cases[i].loff, kdst,
		    cases[i].roff, cases[i].len, (int64_t)cases[i].len);
		tap_ok(good && same(dst, cases[i].roff, src, cases[i].loff,
		    cases[i].len, 0xee, "WRITE"), "WRITE local %ju -> remote "
		    "%ju, %ju bytes: event and bytes exact",
		    (uintmax_t)cases[i].loff, (uintmax_t)cases[i].roff,
		    (uintmax_t)cases[i].len);
		/* Read it back from the other end into a third region. */
		memset(back, 0x11, RLEN);
		good = one(KQDAFS_RDMA_READ, ep[1], kback, cases[i].loff, kdst,
		    cases[i].roff, cases[i].len, (int64_t)cases[i].len);
		tap_ok(good && same(back, cases[i].loff, src, cases[i].loff,
		    cases[i].len, 0x11, "READ"), "READ remote %ju -> local "
		    "%ju, %ju bytes: event and bytes exact",
		    (uintmax_t)cases[i].roff, (uintmax_t)cases[i].loff,
		    (uintmax_t)cases[i].len);
	}
	/* Inside one region (local and remote the same MR). */
	fill(dst, 99);
	memcpy(back, dst, RLEN);
	good = one(KQDAFS_RDMA_WRITE, ep[0], kdst, 0, kdst, RLEN / 2, 4096,
	    4096);
	memcpy(back + RLEN / 2, back, 4096);
	tap_ok(good && memcmp(dst, back, RLEN) == 0,
	    "WRITE within one region moves the bytes");
	/*
	 * Overlapping ranges of one region, over several pages: the
	 * destination gets the source's bytes as memmove(3) would, whether
	 * it starts after the source (copied from the end) or before it.
	 */
	for (i = 0; i < NOVERLAPS; i++) {
		fill(dst, 101 + i);
		memcpy(back, dst, RLEN);
		good = one(overlaps[i].op, overlaps[i].op ==
		    KQDAFS_RDMA_WRITE ? ep[0] : ep[1], kdst, overlaps[i].loff,
		    kdst, overlaps[i].roff, overlaps[i].len,
		    (int64_t)overlaps[i].len);
		if (overlaps[i].op == KQDAFS_RDMA_WRITE)
			memmove(back + overlaps[i].roff, back +
			    overlaps[i].loff, overlaps[i].len);
		else
			memmove(back + overlaps[i].loff, back +
			    overlaps[i].roff, overlaps[i].len);
		tap_ok(good && memcmp(dst, back, RLEN) == 0, "%s within one "
		    "region, local %ju remote %ju, %ju bytes: as memmove",
		    overlaps[i].op == KQDAFS_RDMA_WRITE ? "WRITE" : "READ",
		    (uintmax_t)overlaps[i].loff, (uintmax_t)overlaps[i].roff,
		    (uintmax_t)overlaps[i].len);
	}
}

/* Post reqs[0..n) in one call; every one must be accepted. */
static int
post_all(struct kqdafs_rdma_request *reqs, struct kqdafs_rdma_result *res,
    uint32_t n)
{
	uint32_t i, posted;
	int e;

	memset(res, 0xa5, n * sizeof(*res));
	if ((e = kqt_post(k.dev, reqs, res, n, &posted)) != 0) {
		tap_diag("post of %u: %s", n, kqt_errname(e));
		return (0);
	}
	if (posted != n) {
		tap_diag("posted %u of %u", posted, n);
		for (i = 0; i < n; i++)
			if (res[i].rres_error != 0)
				tap_diag("request %u: %s", i,
				    kqt_errname(res[i].rres_error));
		return (0);
	}
	for (i = 0; i < n; i++)
		if (res[i].rres_id == 0 || res[i].rres_error != 0) {
			tap_diag("request %u: id %ju error %d", i,
			    (uintmax_t)res[i].rres_id, res[i].rres_error);
			return (0);
		}
	accepted += n;
	return (1);
}

static void
send_recv(void)
{
	struct kqdafs_rdma_request r[8];
	struct kqdafs_rdma_result res[8];
	struct kevent ev[16];
	static const uint64_t lens[4] = { 1, 4096, 10000, 0 };
	int good, i, n;

	/* RECV first, then SEND (shorter than the buffer). */
	fill(src, 1);
	memset(inbox, 0xee, RLEN);
	kqt_wr(&r[0], KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox, 333, 0, 0, 70000,
	    ++udata_seq);
	kqt_wr(&r[1], KQDAFS_RDMA_SEND, ep[0], k.kq, ksrc, 17, 0, 0, 65000,
	    ++udata_seq);
	good = post_all(r, res, 1);
	tap_ok(good && kqt_quiet(k.kq, KQT_QUIET_MS) == 0,
	    "a RECV with no SEND waits: no event");
	good = good && post_all(&r[1], &res[1], 1);
	n = good ? kqt_collect(k.kq, ev, 2, KQT_EVENT_TIMEOUT_MS) : 0;
	tap_ok(n == 2 &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, res[0].rres_id),
	    KQDAFS_RDMA_RECV, res[0].rres_id, r[0].rr_udata, 65000) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, res[1].rres_id),
	    KQDAFS_RDMA_SEND, res[1].rres_id, r[1].rr_udata, 65000),
	    "RECV then SEND: both complete with the SEND's length");
	tap_ok(same(inbox, 333, src, 17, 65000, 0xee, "SEND/RECV"),
	    "SEND/RECV: bytes exact, nothing written past the SEND's length");
	moved += 65000;

	/* SEND first: it waits for a RECV; then the RECV meets it. */
	fill(src, 2);
	memset(inbox, 0xee, RLEN);
	kqt_wr(&r[0], KQDAFS_RDMA_SEND, ep[1], k.kq, ksrc, 4096, 0, 0, 8192,
	    ++udata_seq);
	kqt_wr(&r[1], KQDAFS_RDMA_RECV, ep[0], k.kq, kinbox, 0, 0, 0, 8192,
	    ++udata_seq);
	good = post_all(r, res, 1);
	tap_ok(good && kqt_quiet(k.kq, KQT_QUIET_MS) == 0,
	    "a SEND with no RECV on the peer waits: no event");
	good = good && post_all(&r[1], &res[1], 1);
	n = good ? kqt_collect(k.kq, ev, 2, KQT_EVENT_TIMEOUT_MS) : 0;
	tap_ok(n == 2 &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, res[0].rres_id),
	    KQDAFS_RDMA_SEND, res[0].rres_id, r[0].rr_udata, 8192) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, res[1].rres_id),
	    KQDAFS_RDMA_RECV, res[1].rres_id, r[1].rr_udata, 8192) &&
	    same(inbox, 0, src, 4096, 8192, 0xee, "SEND first"),
	    "SEND then RECV (opposite direction): matched, bytes exact");
	moved += 8192;

	/* FIFO: four RECVs, then four SENDs of different lengths. */
	fill(src, 3);
	memset(inbox, 0xee, RLEN);
	for (i = 0; i < 4; i++)
		kqt_wr(&r[i], KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox,
		    (uint64_t)i * 65536, 0, 0, 65536, ++udata_seq);
	for (i = 0; i < 4; i++)
		kqt_wr(&r[4 + i], KQDAFS_RDMA_SEND, ep[0], k.kq, ksrc,
		    (uint64_t)i * 100000, 0, 0, lens[i], ++udata_seq);
	good = post_all(r, res, 4) && post_all(&r[4], &res[4], 4);
	n = good ? kqt_collect(k.kq, ev, 8, KQT_EVENT_TIMEOUT_MS) : 0;
	good = n == 8;
	for (i = 0; good && i < 4; i++) {
		good = kqt_rdma_ev_check(&k, kqt_find_ev(ev, n,
		    res[i].rres_id), KQDAFS_RDMA_RECV, res[i].rres_id,
		    r[i].rr_udata, (int64_t)lens[i]) &&
		    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n,
		    res[4 + i].rres_id), KQDAFS_RDMA_SEND, res[4 + i].rres_id,
		    r[4 + i].rr_udata, (int64_t)lens[i]) &&
		    (lens[i] == 0 || memcmp(inbox + (uint64_t)i * 65536,
		    src + (uint64_t)i * 100000, lens[i]) == 0);
		moved += (int64_t)lens[i];
		if (!good)
			tap_diag("RECV %d does not hold SEND %d", i, i);
	}
	tap_ok(good, "four RECVs are filled in the order they were posted "
	    "(lengths 1, 4096, 10000, 0)");
	tap_ok(inbox[65536 + 4096] == 0xee && inbox[2 * 65536 + 10000] == 0xee
	    && inbox[3 * 65536] == 0xee,
	    "nothing written past each SEND's length");
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no extra event");
}

static void
batches(void)
{
	static struct kqdafs_rdma_request r[KQDAFS_RDMA_MAX_BATCH];
	static struct kqdafs_rdma_result res[KQDAFS_RDMA_MAX_BATCH];
	static struct kevent ev[KQDAFS_RDMA_MAX_BATCH];
	const struct kevent *e;
	int good, i, n, seen;

	fill(src, 4);
	memset(dst, 0, RLEN);
	for (i = 0; i < KQDAFS_RDMA_MAX_BATCH; i++)
		kqt_wr(&r[i], KQDAFS_RDMA_WRITE, ep[i % 2], k.kq, ksrc,
		    (uint64_t)i * 4096, kdst,
		    (uint64_t)(KQDAFS_RDMA_MAX_BATCH - 1 - i) * 4096, 4096,
		    ++udata_seq);
	good = post_all(r, res, KQDAFS_RDMA_MAX_BATCH);
	tap_ok(good, "a batch of %d WRITEs is accepted whole",
	    KQDAFS_RDMA_MAX_BATCH);
	for (i = 0, seen = 1; good && i < KQDAFS_RDMA_MAX_BATCH; i++)
		for (n = i + 1; n < KQDAFS_RDMA_MAX_BATCH; n++)
			if (res[i].rres_id == res[n].rres_id)
				seen = 0;
	tap_ok(good && seen, "their ids are distinct");
	n = good ? kqt_collect(k.kq, ev, KQDAFS_RDMA_MAX_BATCH,
	    KQT_EVENT_TIMEOUT_MS) : 0;
	for (i = 0, seen = 0; good && i < KQDAFS_RDMA_MAX_BATCH; i++) {
		e = kqt_find_ev(ev, n, res[i].rres_id);
		if (e != NULL && kqt_rdma_ev_check(&k, e, KQDAFS_RDMA_WRITE,
		    res[i].rres_id, r[i].rr_udata, 4096))
			seen++;
	}
	tap_ok(n == KQDAFS_RDMA_MAX_BATCH && seen == n,
	    "one well-formed event per request (%d of %d)", seen,
	    KQDAFS_RDMA_MAX_BATCH);
	for (i = 0, good = 1; i < KQDAFS_RDMA_MAX_BATCH; i++)
		if (memcmp(dst + (uint64_t)(KQDAFS_RDMA_MAX_BATCH - 1 - i) *
		    4096, src + (uint64_t)i * 4096, 4096) != 0)
			good = 0;
	tap_ok(good, "every WRITE of the batch landed where it was sent");
	moved += (int64_t)KQDAFS_RDMA_MAX_BATCH * 4096;

	/* Half RECVs, half SENDs, in one batch: each SEND meets a RECV. */
	memset(inbox, 0xee, RLEN);
	for (i = 0; i < KQDAFS_RDMA_MAX_BATCH / 2; i++) {
		kqt_wr(&r[i], KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox,
		    (uint64_t)i * 4096, 0, 0, 4096, ++udata_seq);
		kqt_wr(&r[KQDAFS_RDMA_MAX_BATCH / 2 + i], KQDAFS_RDMA_SEND,
		    ep[0], k.kq, ksrc, (uint64_t)i * 4096, 0, 0, 100 + i,
		    ++udata_seq);
	}
	good = post_all(r, res, KQDAFS_RDMA_MAX_BATCH);
	n = good ? kqt_collect(k.kq, ev, KQDAFS_RDMA_MAX_BATCH,
	    KQT_EVENT_TIMEOUT_MS) : 0;
	for (i = 0, seen = 0; good && i < KQDAFS_RDMA_MAX_BATCH / 2; i++) {
		int j = KQDAFS_RDMA_MAX_BATCH / 2 + i;

		if (kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, res[i].rres_id),
		    KQDAFS_RDMA_RECV, res[i].rres_id, r[i].rr_udata, 100 + i) &&
		    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, res[j].rres_id),
		    KQDAFS_RDMA_SEND, res[j].rres_id, r[j].rr_udata, 100 + i) &&
		    memcmp(inbox + (uint64_t)i * 4096, src + (uint64_t)i * 4096,
		    (size_t)(100 + i)) == 0 &&
		    inbox[(uint64_t)i * 4096 + 100 + (uint64_t)i] == 0xee)
			seen++;
		moved += 100 + i;
	}
	tap_ok(n == KQDAFS_RDMA_MAX_BATCH &&
	    seen == KQDAFS_RDMA_MAX_BATCH / 2,
	    "a batch of %d RECVs and %d SENDs: SEND i fills RECV i (%d ok)",
	    KQDAFS_RDMA_MAX_BATCH / 2, KQDAFS_RDMA_MAX_BATCH / 2, seen);
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no extra event");
}

int
main(void)
{
	int64_t mrs0, eps0, pin0, posted0, completed0, bytes0, v;
	uint32_t *keys[NREG] = { &ksrc, &kdst, &kback, &kinbox };
	static const uint32_t acc[NREG] = { 0, KQT_MR_ALL,
	    KQDAFS_MR_LOCAL_WRITE, KQDAFS_MR_LOCAL_WRITE };
	uint8_t **bufs[NREG] = { &src, &dst, &back, &inbox };
	int e, i, good;

	tap_init("rdma_rw");
	kqt_open_or_bail(&k);
	kqt_require_rdma(&k);
	tap_diag("filter_rdma %d, slot mode %u", k.info.kqi_filter_rdma,
	    k.info.kqi_slot_mode);
	mrs0 = kqt_counter(KQT_SYSCTL_RDMA_MRS);
	eps0 = kqt_counter(KQT_SYSCTL_RDMA_EPS);
	pin0 = kqt_counter(KQT_SYSCTL_RDMA_PINNED);
	posted0 = kqt_counter(KQT_SYSCTL_RDMA_POSTED);
	completed0 = kqt_counter(KQT_SYSCTL_RDMA_COMPLETED);
	bytes0 = kqt_counter(KQT_SYSCTL_RDMA_BYTES);

	for (i = 0, good = 1; i < NREG; i++) {
		*bufs[i] = kqt_pages(RLEN);
		if ((e = kqt_reg_mr(k.dev, *bufs[i], RLEN, acc[i], keys[i])) !=
		    0 || *keys[i] == 0) {
			tap_diag("region %d: %s, key %u", i, kqt_errname(e),
			    *keys[i]);
			good = 0;
		}
	}
	tap_ok(good && ksrc != kdst && ksrc != kback && ksrc != kinbox &&
	    kdst != kback && kdst != kinbox && kback != kinbox,
	    "four regions registered, distinct nonzero keys");
	if (!good)
		tap_bail("cannot register the regions");
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_MRS) == mrs0 + NREG,
	    "rdma_mrs counts them (+%d)", NREG);
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_PINNED) == pin0 + NREG * RLEN,
	    "rdma_pinned_bytes counts their bytes (+%d)", NREG * RLEN);
	e = kqt_ep_pair(k.dev, ep);
	tap_ok(e == 0 && ep[0] != 0 && ep[1] != 0 && ep[0] != ep[1],
	    "EP_PAIR gives two distinct nonzero endpoints (%u, %u): %s", ep[0],
	    ep[1], kqt_errname(e));
	if (e != 0)
		tap_bail("no endpoint pair");
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_EPS) == eps0 + 2,
	    "rdma_endpoints counts them (+2)");

	write_read();
	send_recv();
	batches();

	/* SEND/RECV count once each; WRITE/READ once. */
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_POSTED) - posted0 == accepted,
	    "rdma_posted moved by the %jd requests accepted (%jd)",
	    (intmax_t)accepted,
	    (intmax_t)(kqt_counter(KQT_SYSCTL_RDMA_POSTED) - posted0));
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_COMPLETED, completed0 +
	    accepted, 10), "rdma_completed moved by as much");
	/*
	 * kqdafs(4): a SEND and its RECV count once.  The kernel adds a
	 * transfer's bytes before it completes the requests, so every event
	 * read means its bytes are counted.
	 */
	v = kqt_counter(KQT_SYSCTL_RDMA_BYTES) - bytes0;
	tap_ok(v == moved, "rdma_bytes moved by the bytes transferred, a "
	    "SEND/RECV pair once (%jd, expected %jd)", (intmax_t)v,
	    (intmax_t)moved);

	tap_ok(kqt_ep_close(k.dev, ep[0]) == 0 &&
	    kqt_ep_close(k.dev, ep[1]) == 0, "both endpoints close");
	for (i = 0, good = 1; i < NREG; i++)
		if ((e = kqt_dereg_mr(k.dev, *keys[i])) != 0) {
			tap_diag("dereg %u: %s", *keys[i], kqt_errname(e));
			good = 0;
		}
	tap_ok(good, "every region deregisters");
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_MRS) == mrs0 &&
	    kqt_counter(KQT_SYSCTL_RDMA_EPS) == eps0 &&
	    kqt_counter(KQT_SYSCTL_RDMA_PINNED) == pin0,
	    "rdma_mrs, rdma_endpoints, rdma_pinned_bytes back to %jd, %jd, "
	    "%jd", (intmax_t)mrs0, (intmax_t)eps0, (intmax_t)pin0);
	tap_ok(kqt_wait_inflight(0, 10), "no request in flight");
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no stray event");
	kqt_close(&k);
	for (i = 0; i < NREG; i++)
		munmap(*bufs[i], RLEN);
	return (tap_done());
}
