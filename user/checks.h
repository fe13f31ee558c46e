/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * checks.h - active health checks for backends that send no heartbeats,
 * as Apache's mod_proxy_hcheck does: a TCP connect to a port, or an
 * HTTP/1.0 GET of a path whose status must be 2xx or 3xx.
 *
 * The checker runs inside the controller's event loop and never blocks:
 * every check is a non-blocking socket registered in the checker's own
 * epoll set, and time only moves when the caller says so. A loop that
 * drives it looks like
 *
 *	add checker_fd(c) to the loop's epoll set (EPOLLIN)
 *	for (;;) {
 *		wait until an fd is ready or checker_next_deadline(c) passes
 *		checker_run(c, now, cb, arg);
 *	}
 *
 * Each check runs every interval_ms, starting at a fixed offset into its
 * interval derived from its id, so that hundreds of checks added at once
 * are spread over the interval instead of firing together; later runs
 * stay on that grid (a run that comes due while the previous one is still
 * in flight is skipped). A run fails when it has no result after
 * timeout_ms. A check starts DOWN; it goes UP after `rise` consecutive
 * passes and DOWN again after `fall` consecutive failures.
 *
 * Memory is allocated by checker_add only; runs reuse the check's buffers.
 */
#ifndef HBLB_CHECKS_H
#define HBLB_CHECKS_H

#include <stdbool.h>
#include <linux/types.h>
#include "hblb.h"

#define CHECK_HOST_LEN          64
#define CHECK_WHY_LEN           64

#define CHECK_INTERVAL_DEFAULT  2000    /* ms */
#define CHECK_TIMEOUT_DEFAULT   1000    /* ms, or interval / 2 if that is less */
#define CHECK_RISE_DEFAULT      2
#define CHECK_FALL_DEFAULT      3
#define CHECK_INTERVAL_MAX      86400000u /* one day */
#define CHECK_COUNT_MAX         1000    /* rise and fall */

/* Zero fields take the defaults. */
struct check_spec {
	enum hblb_check_type type;      /* HBLB_CHECK_TCP or HBLB_CHECK_HTTP */
	__be32 addr;                    /* not 0 */
	__u16 port;                     /* host order, not 0 */
	char path[HBLB_CHECK_PATH_LEN]; /* HTTP: "/" if empty; must start with '/' */
	char host[CHECK_HOST_LEN];      /* HTTP Host header; "" for addr[:port] */
	__u32 interval_ms;              /* 1..CHECK_INTERVAL_MAX */
	__u32 timeout_ms;               /* < interval_ms */
	__u32 rise;                     /* 1..CHECK_COUNT_MAX */
	__u32 fall;                     /* 1..CHECK_COUNT_MAX */
};

/* Called by checker_run on every state change only: never for a check
 * that is still in its initial DOWN state. `why` is the result of the run
 * that decided it (e.g. "HTTP 200", "TCP connect refused", "timeout after
 * 1000 ms (connect)"), valid during the call. The callback may call
 * checker_add, checker_del (of any check, this one included) and the
 * getters; not checker_run or checker_free. */
typedef void (*checker_cb)(void *arg, __u32 id, bool up, const char *why);

struct checker;

/* A checker with no checks. NULL with errno set on failure. */
struct checker *checker_new(void);
/* Closes every check's socket and the epoll fd; NULL is fine. */
void checker_free(struct checker *c);

/* Adds check `id` (the caller's backend id, unique in this checker) at
 * time now_ns (CLOCK_MONOTONIC). The first run starts within one interval
 * of now_ns. Returns 0, -EEXIST, -EINVAL (a field out of range, a path or
 * host with spaces or control characters, a path without a leading '/')
 * or -ENOMEM. To change a check, delete and add it again: it then starts
 * DOWN. */
int checker_add(struct checker *c, __u32 id, const struct check_spec *s, __u64 now_ns);
/* Removes it and closes its socket if a run is in flight; no callback.
 * Returns 0 or -ENOENT. */
int checker_del(struct checker *c, __u32 id);

/* The epoll fd to watch for EPOLLIN (level-triggered): readable while a
 * socket of some check is ready. */
int checker_fd(const struct checker *c);
/* The earliest run start or run timeout (absolute CLOCK_MONOTONIC ns),
 * UINT64_MAX with no checks. Call checker_run once it has passed. */
__u64 checker_next_deadline(const struct checker *c);

/* Handles ready sockets, then times out the runs whose timeout is at or
 * before now_ns and starts the runs due by then; never waits. Results are
 * stamped with now_ns, so pass a fresh time. Calls cb (may be NULL) on
 * state changes. Returns the number of state changes, or -errno if the
 * epoll set cannot be read. */
int checker_run(struct checker *c, __u64 now_ns, checker_cb cb, void *arg);

/* true while UP; false while DOWN or if there is no such check. */
bool checker_state(const struct checker *c, __u32 id);

struct check_status {
	bool up;
	bool in_flight;                 /* a run has its socket open */
	bool last_ok;                   /* the last run passed (false before any) */
	__u32 runs;                     /* runs finished since added */
	__u32 streak;                   /* consecutive runs with the last one's outcome */
	__u64 last_ns;                  /* when the last run finished, 0 before any */
	__u64 next_ns;                  /* next run start, or this run's timeout */
	char why[CHECK_WHY_LEN];        /* the last run's result, "" before any */
};

/* Fills *st for check `id`. Returns 0 or -ENOENT. */
int checker_status(const struct checker *c, __u32 id, struct check_status *st);
/* Checks with a run in flight, i.e. sockets open besides the epoll fd. */
__u32 checker_active(const struct checker *c);

/* The HTTP status line parser, exposed for tests: buf holds the first len
 * bytes of a response, eof says whether more can come. Returns the status
 * code (100..999) once "HTTP/d.d ddd" and the byte after it (SP, CR or LF)
 * are in, 0 if more bytes are needed, -EBADMSG if the bytes can be no
 * status line, -ENODATA if the response ended before one was complete.
 * Needs at most CHECK_STATUS_LINE_MIN bytes. */
#define CHECK_STATUS_LINE_MIN   13
int checker_http_status(const char *buf, __u32 len, bool eof);

#endif
