// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Active health checks; see checks.h for the contract.
 *
 * A run is IDLE -> CONNECTING -> (HTTP: SENDING -> READING) -> IDLE, each
 * step taken when epoll reports the socket ready. Checks sit in a min-heap
 * on their deadline (next start while idle, timeout while in flight), so
 * checker_run and checker_next_deadline touch only the checks that are
 * due, and in a hash table by id for the callers and for epoll events.
 *
 * An epoll event carries the check's id and the sequence number of the
 * run that registered the socket. A run can end, or its check be deleted
 * (by the callback too), while later events of the same epoll_wait batch
 * still refer to it; those no longer match and are dropped, so no event
 * ever reaches a freed check or a newer run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "checks.h"
#include "log.h"

#define NS_PER_MS       1000000ULL
#define EVENTS_MAX      64
#define ROUNDS_MAX      64      /* epoll_wait batches per run; the rest wait for the next */
#define REQ_LEN         256

enum phase { PH_IDLE, PH_CONNECTING, PH_SENDING, PH_READING };

struct check {
	__u32 id;
	__u32 seq;              /* of the run in flight */
	int fd;                 /* -1 while idle */
	enum phase phase;
	bool in_epoll;
	bool up;
	bool last_ok;
	__u32 hidx;             /* index in the heap */
	__u64 deadline;
	__u64 base;             /* first start: runs start at base + k * interval */
	__u64 interval_ns;
	__u64 timeout_ns;
	__u64 last_ns;
	__u32 runs;
	__u32 streak;
	struct check *hnext;    /* hash chain */
	struct check_spec s;    /* with the defaults filled in */
	__u16 req_len;
	__u16 req_off;          /* bytes of req sent */
	__u32 resp_len;
	char resp[CHECK_STATUS_LINE_MIN];
	char why[CHECK_WHY_LEN];
	char req[REQ_LEN];
};

struct checker {
	int epfd;
	__u32 n;
	__u32 active;
	__u32 seq;
	__u32 cap;              /* of heap */
	struct check **heap;    /* [n] ordered on deadline */
	__u32 nbuckets;         /* power of 2 */
	struct check **tab;     /* [nbuckets] chains by id */
};

/* splitmix64's finalizer: ids are often consecutive, their hashes must not be */
static __u64 mix64(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static struct check **bucket(const struct checker *c, __u32 id)
{
	return &c->tab[mix64(id) & (c->nbuckets - 1)];
}

static struct check *lookup(const struct checker *c, __u32 id)
{
	struct check *k;

	for (k = *bucket(c, id); k; k = k->hnext)
		if (k->id == id)
			return k;
	return NULL;
}

/* Keeps chains short; on ENOMEM the old table stays, only slower. */
static void tab_grow(struct checker *c)
{
	__u32 nb = c->nbuckets * 2, old = c->nbuckets;
	struct check **tab = calloc(nb, sizeof(*tab)), **otab = c->tab;

	if (!tab)
		return;
	c->tab = tab;
	c->nbuckets = nb;
	for (__u32 i = 0; i < old; i++) {
		struct check *k = otab[i], *next;

		for (; k; k = next) {
			struct check **b = bucket(c, k->id);

			next = k->hnext;
			k->hnext = *b;
			*b = k;
		}
	}
	free(otab);
}

static void tab_unlink(struct checker *c, struct check *k)
{
	struct check **p = bucket(c, k->id);

	while (*p != k)
		p = &(*p)->hnext;
	*p = k->hnext;
}

/* ---- deadline heap ------------------------------------------------------ */

static void heap_set(struct checker *c, __u32 i, struct check *k)
{
	c->heap[i] = k;
	k->hidx = i;
}

static void heap_up(struct checker *c, __u32 i)
{
	struct check *k = c->heap[i];

	while (i > 0) {
		__u32 p = (i - 1) / 2;

		if (c->heap[p]->deadline <= k->deadline)
			break;
		heap_set(c, i, c->heap[p]);
		i = p;
	}
	heap_set(c, i, k);
}

static void heap_down(struct checker *c, __u32 i)
{
	struct check *k = c->heap[i];

	for (;;) {
		__u32 l = 2 * i + 1, m = l;

		if (l >= c->n)
			break;
		if (l + 1 < c->n && c->heap[l + 1]->deadline < c->heap[l]->deadline)
			m = l + 1;
		if (k->deadline <= c->heap[m]->deadline)
			break;
		heap_set(c, i, c->heap[m]);
		i = m;
	}
	heap_set(c, i, k);
}

static void set_deadline(struct checker *c, struct check *k, __u64 t)
{
	k->deadline = t;
	heap_up(c, k->hidx);
	heap_down(c, k->hidx);
}

static void heap_remove(struct checker *c, struct check *k)
{
	__u32 i = k->hidx;
	struct check *last = c->heap[--c->n];

	if (last == k)
		return;
	heap_set(c, i, last);
	heap_up(c, i);
	heap_down(c, last->hidx);
}

/* ---- one run ------------------------------------------------------------ */

/* The first start on the check's grid strictly after now. */
static __u64 next_start(const struct check *k, __u64 now)
{
	if (now < k->base)
		return k->base;
	return k->base + ((now - k->base) / k->interval_ns + 1) * k->interval_ns;
}

static void close_conn(struct checker *c, struct check *k)
{
	if (k->fd < 0)
		return;
	/* explicit, in case a forked child still holds the socket */
	if (k->in_epoll)
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	k->fd = -1;
	k->in_epoll = false;
	k->phase = PH_IDLE;
	c->active--;
}

/* Ends the run: records the result, schedules the next run, and tells the
 * caller if the state flipped. Returns 1 on a state change, else 0. The
 * check may be gone when this returns (cb may delete it). */
__attribute__((format(printf, 7, 8)))
static int conclude(struct checker *c, struct check *k, __u64 now, bool ok,
		    checker_cb cb, void *arg, const char *fmt, ...)
{
	char why[CHECK_WHY_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);

	close_conn(c, k);
	set_deadline(c, k, next_start(k, now));

	if (strcmp(why, k->why))
		pr_debug("check %u %s:%u: %s", k->id,
			 inet_ntoa((struct in_addr){ .s_addr = k->s.addr }),
			 k->s.port, why);
	memcpy(k->why, why, sizeof(why));
	k->streak = (k->runs && k->last_ok == ok) ? k->streak + 1 : 1;
	k->last_ok = ok;
	k->last_ns = now;
	k->runs++;

	if (k->up == ok || k->streak < (ok ? k->s.rise : k->s.fall))
		return 0;
	k->up = ok;
	pr_debug("check %u: %s", k->id, k->up ? "UP" : "DOWN");
	if (cb)
		cb(arg, k->id, k->up, why);  /* the local copy: k may be freed by cb */
	return 1;
}

static int ep_watch(struct checker *c, struct check *k, __u32 events)
{
	struct epoll_event ev = {
		.events = events,
		.data.u64 = (__u64)k->seq << 32 | k->id,
	};

	if (epoll_ctl(c->epfd, k->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      k->fd, &ev) < 0)
		return -errno;
	k->in_epoll = true;
	return 0;
}

/* A failure on the backend's side: "TCP connect refused", "HTTP recv:
 * Connection reset by peer". */
static int fail_errno(struct checker *c, struct check *k, __u64 now,
		      checker_cb cb, void *arg, const char *what, int err)
{
	if (err == ECONNREFUSED)
		return conclude(c, k, now, false, cb, arg, "%s refused", what);
	return conclude(c, k, now, false, cb, arg, "%s: %s", what, strerror(err));
}

/* A failure on our side (no fds, no memory) still fails the run: the
 * backend's state cannot be known. Warned once per streak, not per run of
 * every check. */
static int fail_local(struct checker *c, struct check *k, __u64 now,
		      checker_cb cb, void *arg, const char *what, int err)
{
	char why[CHECK_WHY_LEN];

	snprintf(why, sizeof(why), "local error: %s: %s", what, strerror(-err));
	if (strcmp(why, k->why))
		pr_warn("check %u: %s", k->id, why);
	return conclude(c, k, now, false, cb, arg, "%s", why);
}

/* Sends what is left of the request; once all is out, waits for the reply. */
static int http_send(struct checker *c, struct check *k, __u64 now,
		     checker_cb cb, void *arg)
{
	int err;

	while (k->req_off < k->req_len) {
		ssize_t n = send(k->fd, k->req + k->req_off, k->req_len - k->req_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return fail_errno(c, k, now, cb, arg, "HTTP send", errno);
			if (k->phase == PH_SENDING)
				return 0;
			k->phase = PH_SENDING;
			err = ep_watch(c, k, EPOLLOUT);
			return err ? fail_local(c, k, now, cb, arg, "epoll_ctl", err) : 0;
		}
		k->req_off += n;
	}
	k->phase = PH_READING;
	err = ep_watch(c, k, EPOLLIN | EPOLLRDHUP);
	return err ? fail_local(c, k, now, cb, arg, "epoll_ctl", err) : 0;
}

/* Shows a response that is no status line, control bytes as '.'. */
static void printable(char *dst, const char *src, __u32 len)
{
	for (__u32 i = 0; i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '.';
	dst[len] = '\0';
}

/* Reads until the status line is decided. The rest of the response is not
 * read: closing the socket then resets the connection, which costs the
 * server nothing and saves reading bodies of any size. */
static int http_recv(struct checker *c, struct check *k, __u64 now,
		     checker_cb cb, void *arg)
{
	char shown[CHECK_STATUS_LINE_MIN + 1];
	bool eof = false;
	int st;

	for (;;) {
		ssize_t n = recv(k->fd, k->resp + k->resp_len,
				 sizeof(k->resp) - k->resp_len, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return fail_errno(c, k, now, cb, arg, "HTTP recv", errno);
		}
		if (n == 0)
			eof = true;
		k->resp_len += n;
		st = checker_http_status(k->resp, k->resp_len, eof);
		if (st > 0)
			break;
		if (st == -ENODATA)
			return conclude(c, k, now, false, cb, arg, k->resp_len ?
					"HTTP status line cut short" :
					"HTTP closed without response");
		if (st < 0) {
			printable(shown, k->resp, k->resp_len);
			return conclude(c, k, now, false, cb, arg,
					"HTTP malformed status line \"%s\"", shown);
		}
	}
	return conclude(c, k, now, st >= 200 && st < 400, cb, arg, "HTTP %d", st);
}

static int connected(struct checker *c, struct check *k, __u64 now,
		     checker_cb cb, void *arg)
{
	if (k->s.type == HBLB_CHECK_TCP)
		return conclude(c, k, now, true, cb, arg, "TCP connected");
	return http_send(c, k, now, cb, arg);
}

static int start(struct checker *c, struct check *k, __u64 now,
		 checker_cb cb, void *arg)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(k->s.port),
		.sin_addr.s_addr = k->s.addr,
	};
	int fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_local(c, k, now, cb, arg, "socket", -errno);
	k->fd = fd;
	k->seq = ++c->seq;
	k->req_off = 0;
	k->resp_len = 0;
	k->phase = PH_CONNECTING;
	c->active++;
	set_deadline(c, k, now + k->timeout_ns);

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return connected(c, k, now, cb, arg);
	if (errno != EINPROGRESS)
		return fail_errno(c, k, now, cb, arg, "TCP connect", errno);
	err = ep_watch(c, k, EPOLLOUT);
	return err ? fail_local(c, k, now, cb, arg, "epoll_ctl", err) : 0;
}

static int on_event(struct checker *c, struct check *k, __u32 events, __u64 now,
		    checker_cb cb, void *arg)
{
	int err = 0;
	socklen_t len = sizeof(err);

	switch (k->phase) {
	case PH_CONNECTING:
		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			return fail_errno(c, k, now, cb, arg, "TCP connect", err);
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return 0;
		return connected(c, k, now, cb, arg);
	case PH_SENDING:
		return http_send(c, k, now, cb, arg);
	case PH_READING:
		return http_recv(c, k, now, cb, arg);
	case PH_IDLE:
		break;
	}
	return 0;
}

static const char *const phase_name[] = {
	[PH_IDLE] = "idle", [PH_CONNECTING] = "connect",
	[PH_SENDING] = "sending request", [PH_READING] = "waiting for status line",
};

int checker_run(struct checker *c, __u64 now, checker_cb cb, void *arg)
{
	struct epoll_event ev[EVENTS_MAX];
	int changes = 0;

	for (int round = 0; round < ROUNDS_MAX; round++) {
		int n = epoll_wait(c->epfd, ev, EVENTS_MAX, 0);

		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			pr_err("checker: epoll_wait: %s", strerror(err));
			return -err;
		}
		for (int i = 0; i < n; i++) {
			struct check *k = lookup(c, (__u32)ev[i].data.u64);

			if (!k || k->fd < 0 || k->seq != (__u32)(ev[i].data.u64 >> 32))
				continue;       /* stale: run ended or check deleted */
			changes += on_event(c, k, ev[i].events, now, cb, arg);
		}
		if (n < EVENTS_MAX)
			break;
	}

	/* Each step moves the deadline past now: this ends. */
	while (c->n && c->heap[0]->deadline <= now) {
		struct check *k = c->heap[0];

		if (k->phase == PH_IDLE)
			changes += start(c, k, now, cb, arg);
		else
			changes += conclude(c, k, now, false, cb, arg,
					    "timeout after %u ms (%s)",
					    k->s.timeout_ms, phase_name[k->phase]);
	}
	return changes;
}

/* ---- public ------------------------------------------------------------- */

int checker_http_status(const char *buf, __u32 len, bool eof)
{
	static const char pat[] = "HTTP/d.d ddd";  /* d: a digit */
	int st = 0;

	for (__u32 i = 0; i < len && i < CHECK_STATUS_LINE_MIN; i++) {
		char ch = buf[i];

		if (i == CHECK_STATUS_LINE_MIN - 1) {
			if (ch != ' ' && ch != '\r' && ch != '\n')
				return -EBADMSG;
		} else if (pat[i] == 'd') {
			if (ch < '0' || ch > '9')
				return -EBADMSG;
		} else if (ch != pat[i]) {
			return -EBADMSG;
		}
		if (i >= 9 && i <= 11)
			st = st * 10 + (ch - '0');
	}
	if (len < CHECK_STATUS_LINE_MIN)
		return eof ? -ENODATA : 0;
	return st >= 100 ? st : -EBADMSG;
}

/* Bytes an HTTP path or Host header may hold: visible ASCII. */
static bool field_ok(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);

	if (!end)
		return false;
	for (; s < end; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static int fill_spec(struct check_spec *s)
{
	if (s->type != HBLB_CHECK_TCP && s->type != HBLB_CHECK_HTTP)
		return -EINVAL;
	if (!s->addr || !s->port)
		return -EINVAL;
	if (!s->interval_ms)
		s->interval_ms = CHECK_INTERVAL_DEFAULT;
	if (!s->timeout_ms)
		s->timeout_ms = s->interval_ms / 2 < CHECK_TIMEOUT_DEFAULT ?
				s->interval_ms / 2 : CHECK_TIMEOUT_DEFAULT;
	if (!s->rise)
		s->rise = CHECK_RISE_DEFAULT;
	if (!s->fall)
		s->fall = CHECK_FALL_DEFAULT;
	if (s->interval_ms > CHECK_INTERVAL_MAX || !s->timeout_ms ||
	    s->timeout_ms >= s->interval_ms ||
	    s->rise > CHECK_COUNT_MAX || s->fall > CHECK_COUNT_MAX)
		return -EINVAL;
	if (s->type == HBLB_CHECK_TCP)
		return 0;
	if (!field_ok(s->path, sizeof(s->path)) || !field_ok(s->host, sizeof(s->host)))
		return -EINVAL;
	if (!s->path[0])
		strcpy(s->path, "/");
	if (s->path[0] != '/')
		return -EINVAL;
	return 0;
}

/* Built once: every run sends the same bytes. */
static void build_request(struct check *k)
{
	char host[CHECK_HOST_LEN];
	int n;

	if (k->s.host[0]) {
		strcpy(host, k->s.host);
	} else {
		inet_ntop(AF_INET, &k->s.addr, host, sizeof(host));
		if (k->s.port != 80)
			snprintf(host + strlen(host), sizeof(host) - strlen(host),
				 ":%u", k->s.port);
	}
	n = snprintf(k->req, sizeof(k->req),
		     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: hblb-check\r\n"
		     "Connection: close\r\n\r\n", k->s.path, host);
	k->req_len = n;
}

/* path and host are under 64 bytes each, the rest is fixed */
_Static_assert(HBLB_CHECK_PATH_LEN + CHECK_HOST_LEN + 80 <= REQ_LEN, "request fits");

struct checker *checker_new(void)
{
	struct checker *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cap = 64;
	c->nbuckets = 64;
	c->heap = calloc(c->cap, sizeof(*c->heap));
	c->tab = calloc(c->nbuckets, sizeof(*c->tab));
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!c->heap || !c->tab || c->epfd < 0) {
		int err = c->epfd < 0 ? errno : ENOMEM;

		pr_err("checker: %s", strerror(err));
		if (c->epfd >= 0)
			close(c->epfd);
		free(c->heap);
		free(c->tab);
		free(c);
		errno = err;
		return NULL;
	}
	return c;
}

void checker_free(struct checker *c)
{
	if (!c)
		return;
	for (__u32 i = 0; i < c->n; i++) {
		struct check *k = c->heap[i];

		if (k->fd >= 0)
			close(k->fd);
		free(k);
	}
	close(c->epfd);
	free(c->heap);
	free(c->tab);
	free(c);
}

int checker_add(struct checker *c, __u32 id, const struct check_spec *spec, __u64 now)
{
	struct check *k;
	struct check **b;
	int err;

	if (lookup(c, id))
		return -EEXIST;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->s = *spec;
	err = fill_spec(&k->s);
	if (err) {
		free(k);
		return err;
	}
	if (c->n == c->cap) {
		struct check **h = realloc(c->heap, 2 * c->cap * sizeof(*h));

		if (!h) {
			free(k);
			return -ENOMEM;
		}
		c->heap = h;
		c->cap *= 2;
	}
	if (c->n >= c->nbuckets)
		tab_grow(c);

	k->id = id;
	k->fd = -1;
	k->interval_ns = k->s.interval_ms * NS_PER_MS;
	k->timeout_ns = k->s.timeout_ms * NS_PER_MS;
	/* a fixed place in the interval per id: checks added together spread out */
	k->base = now + mix64(id) % k->interval_ns;
	k->deadline = k->base;
	if (k->s.type == HBLB_CHECK_HTTP)
		build_request(k);

	b = bucket(c, id);
	k->hnext = *b;
	*b = k;
	c->heap[c->n] = k;
	k->hidx = c->n++;
	heap_up(c, k->hidx);
	return 0;
}

int checker_del(struct checker *c, __u32 id)
{
	struct check *k = lookup(c, id);

	if (!k)
		return -ENOENT;
	close_conn(c, k);
	tab_unlink(c, k);
	heap_remove(c, k);
	free(k);
	return 0;
}

int checker_fd(const struct checker *c)
{
	return c->epfd;
}

__u64 checker_next_deadline(const struct checker *c)
{
	return c->n ? c->heap[0]->deadline : UINT64_MAX;
}

bool checker_state(const struct checker *c, __u32 id)
{
	const struct check *k = lookup(c, id);

	return k && k->up;
}

int checker_status(const struct checker *c, __u32 id, struct check_status *st)
{
	const struct check *k = lookup(c, id);

	if (!k)
		return -ENOENT;
	st->up = k->up;
	st->in_flight = k->fd >= 0;
	st->last_ok = k->last_ok;
	st->runs = k->runs;
	st->streak = k->streak;
	st->last_ns = k->last_ns;
	st->next_ns = k->deadline;
	memcpy(st->why, k->why, sizeof(st->why));
	return 0;
}

__u32 checker_active(const struct checker *c)
{
	return c->active;
}
