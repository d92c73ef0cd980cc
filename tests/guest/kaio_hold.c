/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_hold FILE N READY: submit N reads of FILE (64 KiB each, 1 MiB
 * apart, so on a slow uncached device they stay in flight), create the
 * file READY, then sleep until killed.  Used by the guest tests to kill a
 * process (or unload the module) with requests in flight.  Exit 1 if the
 * requests could not be submitted (READY is not created then).
 */

#include <sys/types.h>
#include <sys/event.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	RLEN	(64 * 1024)
#define	STRIDE	(1024 * 1024)

int
main(int argc, char **argv)
{
	struct kqdafs_kaio_request reqs[KQDAFS_KAIO_MAX_BATCH];
	struct kqdafs_kaio_result res[KQDAFS_KAIO_MAX_BATCH];
	struct kqt k;
	uint8_t *buf;
	uint32_t i, n, sub;
	int e, fd;

	if (argc != 4 || (n = (uint32_t)atoi(argv[2])) < 1 ||
	    n > KQDAFS_KAIO_MAX_BATCH) {
		fprintf(stderr, "usage: kaio_hold FILE N(1-256) READY\n");
		return (2);
	}
	if ((e = kqt_open(&k)) != 0 || (fd = open(argv[1], O_RDONLY)) < 0) {
		printf("# kaio_hold: open: %s\n", strerror(e ? e : errno));
		return (1);
	}
	if ((buf = malloc((size_t)n * RLEN)) == NULL)
		return (1);
	for (i = 0; i < n; i++)
		kqt_req(&reqs[i], KQDAFS_KAIO_READ, fd, k.kq,
		    (int64_t)i * STRIDE, buf + (size_t)i * RLEN, RLEN, i);
	e = kqt_submit(k.dev, reqs, res, n, &sub);
	if (e != 0 || sub != n) {
		printf("# kaio_hold: submit: %s, %u of %u accepted\n",
		    kqt_errname(e), e == 0 ? sub : 0, n);
		return (1);
	}
	printf("# kaio_hold: pid %d, %u reads submitted, in flight %jd\n",
	    (int)getpid(), n, (intmax_t)kqt_inflight());
	fflush(stdout);
	if ((e = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return (1);
	close(e);
	for (;;)
		pause();
}
