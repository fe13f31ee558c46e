// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_checks - the active checker against real sockets, driven the way
 * the controller drives it: poll on checker_fd() until the next deadline,
 * then checker_run() with the monotonic clock.
 *
 * Runs in a network namespace of its own (root): lo up with 198.18.0.10
 * and 198.18.0.11, the only addresses ever connected to. The namespace
 * dies with the process; the HTTP server thread is joined before exit.
 * Every wait is bounded by both iterations and time, so a transition that
 * never comes fails the case instead of hanging. Run with -v for the
 * checker's debug lines.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "checks.h"
#include "log.h"
#include "testing.h"

#define ADDR_A          "198.18.0.10"
#define ADDR_B          "198.18.0.11"
#define PORT_CLOSED     7           /* nothing listens there */
#define PORT_TCP        9000
#define PORT_MANY       9001
#define PORT_STUCK      9002
#define PORT_FULL       9003
#define PORT_HTTP       8080

#define INTERVAL_MS     50
#define TIMEOUT_MS      30
#define WAIT_MS         5000        /* generous bound on any one transition */
#define ITER_MAX        200000
#define MAX_IDS         2048
#define N_MANY          200
#define N_HTTP_MANY     100

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __be32 ip(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* ---- what the callback saw ---------------------------------------------- */

struct rec {
	int ups, downs;
	bool up;
	__u32 streak;               /* streak at the change: rise or fall */
	char why[CHECK_WHY_LEN];
};

static struct rec recs[MAX_IDS];

static void on_change(void *arg, __u32 id, bool up, const char *why)
{
	struct checker *c = arg;
	struct check_status st;
	struct rec *r = &recs[id % MAX_IDS];

	r->up = up;
	if (up)
		r->ups++;
	else
		r->downs++;
	snprintf(r->why, sizeof(r->why), "%s", why);
	if (checker_status(c, id, &st) == 0)
		r->streak = st.streak;
}

static const char *why_of(struct checker *c, __u32 id)
{
	static struct check_status st;

	if (checker_status(c, id, &st))
		return "(no such check)";
	return st.why;
}

/* ---- listeners the loop accepts on -------------------------------------- */

static int accepting[4];
static int n_accepting;

static int listen_on(const char *addr, __u16 port, int backlog)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	sa.sin_addr.s_addr = ip(addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void accept_on(int fd)
{
	accepting[n_accepting++] = fd;
}

static void stop_accepting(int fd)
{
	for (int i = 0; i < n_accepting; i++)
		if (accepting[i] == fd)
			accepting[i] = accepting[--n_accepting];
	close(fd);
}

/* ---- the loop ------------------------------------------------------------ */

static __u64 run_max_ns;            /* longest checker_run seen, reported */
static int run_errors;

/* One turn of a controller-like loop; waits at most 10 ms. */
static void turn(struct checker *c)
{
	struct pollfd pf[1 + 4] = { { .fd = checker_fd(c), .events = POLLIN } };
	__u64 now = now_ns(), dl = checker_next_deadline(c), t0;
	int ms = 10, rc;

	if (dl <= now)
		ms = 0;
	else if (dl - now < 10000000ULL)
		ms = (dl - now + 999999) / 1000000;
	for (int i = 0; i < n_accepting; i++)
		pf[1 + i] = (struct pollfd){ .fd = accepting[i], .events = POLLIN };
	poll(pf, 1 + n_accepting, ms);

	for (int i = 0; i < n_accepting; i++) {
		int fd;

		while ((fd = accept4(accepting[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
	}
	t0 = now_ns();
	rc = checker_run(c, t0, on_change, c);
	if (rc < 0)
		run_errors++;
	if (now_ns() - t0 > run_max_ns)
		run_max_ns = now_ns() - t0;
}

typedef bool (*pred_fn)(struct checker *c, __u32 id, const void *arg);

/* Turns the loop until pred holds; false after WAIT_MS or ITER_MAX turns. */
static bool wait_for(struct checker *c, pred_fn pred, __u32 id, const void *arg)
{
	__u64 end = now_ns() + WAIT_MS * 1000000ULL;

	for (int i = 0; i < ITER_MAX && now_ns() < end; i++) {
		if (pred(c, id, arg))
			return true;
		turn(c);
	}
	return pred(c, id, arg);
}

static void run_for(struct checker *c, __u32 ms)
{
	__u64 end = now_ns() + ms * 1000000ULL;

	for (int i = 0; i < ITER_MAX && now_ns() < end; i++)
		turn(c);
}

static bool is_up(struct checker *c, __u32 id, const void *arg)
{
	return checker_state(c, id) == *(const bool *)arg;
}

static bool runs_at_least(struct checker *c, __u32 id, const void *arg)
{
	struct check_status st;

	return checker_status(c, id, &st) == 0 && st.runs >= *(const __u32 *)arg;
}

static bool wait_state(struct checker *c, __u32 id, bool up)
{
	return wait_for(c, is_up, id, &up);
}

static bool all_up(struct checker *c, __u32 first, const void *arg)
{
	__u32 n = *(const __u32 *)arg;

	for (__u32 id = first; id < first + n; id++)
		if (!checker_state(c, id))
			return false;
	return true;
}

static struct check_spec spec(enum hblb_check_type type, const char *addr, __u16 port)
{
	struct check_spec s = {
		.type = type, .addr = ip(addr), .port = port,
		.interval_ms = INTERVAL_MS, .timeout_ms = TIMEOUT_MS,
		.rise = 2, .fall = 2,
	};

	if (type == HBLB_CHECK_HTTP)
		strcpy(s.path, "/health");
	return s;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- the HTTP server thread --------------------------------------------- */

enum http_mode {
	HM_200, HM_500, HM_302, HM_SILENT, HM_GARBAGE, HM_SPLIT, HM_NO_REASON,
	HM_CLOSE,
};

#define HTTP_CLIENTS 256

static atomic_int http_mode;
static atomic_int http_requests;
static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
static char http_last_req[512];
static int http_stop[2] = { -1, -1 };
static int http_lfd = -1;
static pthread_t http_thread;

struct http_client {
	int fd;
	int len;
	bool answered;
	char buf[512];
};

static void send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		s += n;
		len -= n;
	}
}

/* Answers a complete request; returns true if the connection is done. */
static bool http_answer(struct http_client *cl)
{
	switch (atomic_load(&http_mode)) {
	case HM_200:
		send_all(cl->fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		return true;
	case HM_500:
		send_all(cl->fd, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
		return true;
	case HM_302:
		send_all(cl->fd, "HTTP/1.0 302 Found\r\nLocation: /elsewhere\r\n\r\n");
		return true;
	case HM_SILENT:
		return false;       /* hold it open until the checker gives up */
	case HM_GARBAGE:
		send_all(cl->fd, "SSH-2.0-OpenSSH_9.2\r\n");
		return true;
	case HM_SPLIT:
		/* the status line in pieces: the checker must reassemble it */
		send_all(cl->fd, "HTTP/1.");
		usleep(3000);
		send_all(cl->fd, "1 2");
		usleep(3000);
		send_all(cl->fd, "04 No Content\r\n\r\n");
		return true;
	case HM_NO_REASON:
		send_all(cl->fd, "HTTP/1.0 200\r\n\r\n");
		return true;
	case HM_CLOSE:
		return true;
	}
	return true;
}

static void *http_main(void *unused)
{
	static struct http_client cl[HTTP_CLIENTS];
	struct pollfd pf[2 + HTTP_CLIENTS];

	(void)unused;
	for (int i = 0; i < HTTP_CLIENTS; i++)
		cl[i].fd = -1;
	for (;;) {
		int n = 2, map[HTTP_CLIENTS];

		pf[0] = (struct pollfd){ .fd = http_stop[0], .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = http_lfd, .events = POLLIN };
		for (int i = 0; i < HTTP_CLIENTS; i++) {
			if (cl[i].fd < 0)
				continue;
			map[n - 2] = i;
			pf[n++] = (struct pollfd){ .fd = cl[i].fd, .events = POLLIN };
		}
		if (poll(pf, n, 1000) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		if (pf[1].revents & POLLIN) {
			int fd;

			while ((fd = accept4(http_lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
				int i;

				for (i = 0; i < HTTP_CLIENTS && cl[i].fd >= 0; i++)
					;
				if (i == HTTP_CLIENTS) {
					close(fd);
					continue;
				}
				cl[i] = (struct http_client){ .fd = fd };
			}
		}
		for (int j = 2; j < n; j++) {
			struct http_client *c = &cl[map[j - 2]];
			ssize_t r;

			if (!pf[j].revents)
				continue;
			r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
			if (r <= 0 || c->answered) {
				close(c->fd);       /* the checker closed, or talks past its request */
				c->fd = -1;
				continue;
			}
			c->len += r;
			c->buf[c->len] = '\0';
			if (!strstr(c->buf, "\r\n\r\n"))
				continue;
			pthread_mutex_lock(&http_lock);
			snprintf(http_last_req, sizeof(http_last_req), "%s", c->buf);
			pthread_mutex_unlock(&http_lock);
			atomic_fetch_add(&http_requests, 1);
			c->answered = true;
			if (http_answer(c)) {
				close(c->fd);
				c->fd = -1;
			}
		}
	}
	for (int i = 0; i < HTTP_CLIENTS; i++)
		if (cl[i].fd >= 0)
			close(cl[i].fd);
	return NULL;
}

static int http_start(void)
{
	int fd = listen_on(ADDR_B, PORT_HTTP, 512);

	if (fd < 0)
		return fd;
	/* the server thread blocks in poll, then accepts until EAGAIN */
	http_lfd = fd;
	if (pipe2(http_stop, O_CLOEXEC) < 0 ||
	    pthread_create(&http_thread, NULL, http_main, NULL)) {
		close(fd);
		http_lfd = -1;
		return -1;
	}
	return 0;
}

static void http_stop_join(void)
{
	if (http_lfd < 0)
		return;
	if (write(http_stop[1], "x", 1) != 1)
		pthread_cancel(http_thread);
	pthread_join(http_thread, NULL);
	close(http_stop[0]);
	close(http_stop[1]);
	close(http_lfd);
	http_lfd = -1;
}

/* ---- cases without traffic ---------------------------------------------- */

static void test_status_parser(void)
{
	static const struct {
		const char *in;
		bool eof;
		int want;
	} t[] = {
		{ "HTTP/1.1 200 OK\r\n", false, 200 },
		{ "HTTP/1.0 302 Found\r\n", false, 302 },
		{ "HTTP/1.0 200\r\n", false, 200 },
		{ "HTTP/1.1 404\n", false, 404 },
		{ "HTTP/1.1 503 ", false, 503 },
		{ "", false, 0 },
		{ "HTTP/1.", false, 0 },
		{ "HTTP/1.1 20", false, 0 },
		{ "HTTP/1.1 200", false, 0 },           /* the next byte decides */
		{ "", true, -ENODATA },
		{ "HTTP/1.1 200", true, -ENODATA },
		{ "HTTP/1.1 2", true, -ENODATA },
		{ "H", false, 0 },
		{ "X", false, -EBADMSG },
		{ "http/1.1 200 OK\r\n", false, -EBADMSG },
		{ "HTTP/1.1 2x0 OK\r\n", false, -EBADMSG },
		{ "HTTP/1.1 2000 OK\r\n", false, -EBADMSG },
		{ "HTTP/1.1  200 OK\r\n", false, -EBADMSG },
		{ "HTTP/11 200 OK\r\n", false, -EBADMSG },
		{ "HTTP/1.1 099 Low\r\n", false, -EBADMSG },
		{ "SSH-2.0-OpenSSH_9.2\r\n", false, -EBADMSG },
		{ "HTTP/1.1 20", true, -ENODATA },
		{ "HTTX", true, -EBADMSG },
	};

	test_begin("status_line_parser");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = checker_http_status(t[i].in, strlen(t[i].in), t[i].eof);

		CHECK(got == t[i].want, "\"%s\" eof=%d: %d, want %d", t[i].in,
		      t[i].eof, got, t[i].want);
	}
	/* byte by byte, as a slow server would send it */
	{
		const char *s = "HTTP/1.1 204 No Content\r\n";
		int got = 0;
		__u32 len;

		for (len = 0; len <= strlen(s) && got == 0; len++)
			got = checker_http_status(s, len, false);
		CHECK_EQ(got, 204);
		CHECK_EQ(len, CHECK_STATUS_LINE_MIN + 1);
	}
	test_end();
}

static void test_add_validation(void)
{
	struct checker *c = checker_new();
	struct check_spec s;
	struct check_status st;

	test_begin("add_validation");
	if (!CHECK(c, "checker_new: %s", strerror(errno))) {
		test_end();
		return;
	}
	s = (struct check_spec){ .type = HBLB_CHECK_HTTP, .addr = ip(ADDR_A), .port = 80 };
	CHECK_EQ(checker_add(c, 1, &s, 1000), 0);
	CHECK_EQ(checker_add(c, 1, &s, 1000), -EEXIST);
	CHECK_EQ(checker_status(c, 1, &st), 0);
	CHECK(!st.up && !st.in_flight && st.runs == 0 && !st.why[0], "fresh check");
	CHECK(!checker_state(c, 1), "a new check starts DOWN");
	CHECK(!checker_state(c, 99), "unknown id reads DOWN");
	CHECK_EQ(checker_status(c, 99, &st), -ENOENT);

	s.type = HBLB_CHECK_NONE;
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);
	s = (struct check_spec){ .type = HBLB_CHECK_TCP, .addr = ip(ADDR_A) };
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);           /* port 0 */
	s = (struct check_spec){ .type = HBLB_CHECK_TCP, .port = 80 };
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);           /* address 0 */
	s = spec(HBLB_CHECK_TCP, ADDR_A, 80);
	s.timeout_ms = s.interval_ms;
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);           /* timeout not < interval */
	s = spec(HBLB_CHECK_TCP, ADDR_A, 80);
	s.interval_ms = 0;
	s.timeout_ms = CHECK_INTERVAL_DEFAULT;
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);           /* against the default interval */
	s = spec(HBLB_CHECK_TCP, ADDR_A, 80);
	s.rise = CHECK_COUNT_MAX + 1;
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);
	s = spec(HBLB_CHECK_HTTP, ADDR_A, 80);
	strcpy(s.path, "health");
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);           /* no leading '/' */
	strcpy(s.path, "/a\r\nX-Injected: 1");
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);
	strcpy(s.path, "/a b");
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);
	strcpy(s.path, "/");
	memset(s.host, 'h', sizeof(s.host));                    /* unterminated */
	CHECK_EQ(checker_add(c, 2, &s, 0), -EINVAL);
	CHECK_EQ(checker_status(c, 2, &st), -ENOENT);

	/* defaults: interval 2000 ms, so the first run is within 2 s */
	CHECK_EQ(checker_status(c, 1, &st), 0);
	CHECK(st.next_ns >= 1000 && st.next_ns < 1000 + 2000 * 1000000ULL,
	      "first run at %llu", (unsigned long long)st.next_ns);
	s = (struct check_spec){ .type = HBLB_CHECK_TCP, .addr = ip(ADDR_A), .port = 80,
				 .interval_ms = 100 };
	CHECK_EQ(checker_add(c, 3, &s, 0), 0);                  /* timeout defaults to 50 */

	CHECK_EQ(checker_del(c, 1), 0);
	CHECK_EQ(checker_del(c, 1), -ENOENT);
	CHECK_EQ(checker_del(c, 3), 0);
	CHECK_EQ(checker_next_deadline(c), UINT64_MAX);
	checker_free(c);
	checker_free(NULL);
	test_end();
}

/* First runs spread over the interval, at the same place for the same id. */
static void test_stagger(void)
{
	const __u64 t0 = 5000000000ULL, t1 = 9000000000ULL, iv = 1000000000ULL;
	struct checker *a = checker_new(), *b = checker_new();
	struct check_spec s = spec(HBLB_CHECK_TCP, ADDR_A, 80);
	struct check_status st;
	__u64 min = UINT64_MAX;
	int bins[10] = { 0 }, same = 0;

	test_begin("first_runs_staggered");
	if (!CHECK(a && b, "checker_new")) {
		checker_free(a);
		checker_free(b);
		test_end();
		return;
	}
	s.interval_ms = 1000;
	s.timeout_ms = 500;
	for (__u32 id = 0; id < N_MANY; id++) {
		CHECK_EQ(checker_add(a, id, &s, t0), 0);
		CHECK_EQ(checker_add(b, id, &s, t1), 0);
	}
	for (__u32 id = 0; id < N_MANY; id++) {
		struct check_status sb;

		checker_status(a, id, &st);
		checker_status(b, id, &sb);
		CHECK(st.next_ns >= t0 && st.next_ns < t0 + iv, "id %u at %llu", id,
		      (unsigned long long)st.next_ns);
		bins[(st.next_ns - t0) * 10 / iv % 10]++;
		same += st.next_ns - t0 == sb.next_ns - t1;
		if (st.next_ns < min)
			min = st.next_ns;
	}
	CHECK_EQ(same, N_MANY);
	CHECK_EQ(checker_next_deadline(a), min);
	/* 20 expected per tenth of the interval */
	for (int i = 0; i < 10; i++)
		CHECK(bins[i] >= 5 && bins[i] <= 40, "tenth %d holds %d first runs", i, bins[i]);
	/* deletes keep the heap ordered: the minimum is still found */
	for (__u32 id = 0; id < N_MANY; id += 2)
		CHECK_EQ(checker_del(a, id), 0);
	min = UINT64_MAX;
	for (__u32 id = 1; id < N_MANY; id += 2) {
		checker_status(a, id, &st);
		if (st.next_ns < min)
			min = st.next_ns;
	}
	CHECK_EQ(checker_next_deadline(a), min);
	checker_free(a);
	checker_free(b);
	test_end();
}

/* ---- TCP ------------------------------------------------------------------ */

static void test_tcp_refused(void)
{
	struct checker *c = checker_new();
	struct check_spec s = spec(HBLB_CHECK_TCP, ADDR_A, PORT_CLOSED);
	__u32 runs = 4;

	test_begin("tcp_closed_port_stays_down");
	CHECK_EQ(checker_add(c, 10, &s, now_ns()), 0);
	CHECK(wait_for(c, runs_at_least, 10, &runs), "no %u runs", runs);
	run_for(c, 3 * INTERVAL_MS);
	CHECK(!checker_state(c, 10), "UP with nothing listening");
	CHECK_EQ(recs[10].ups + recs[10].downs, 0);        /* never left DOWN */
	CHECK(strstr(why_of(c, 10), "refused"), "why: %s", why_of(c, 10));
	checker_free(c);
	test_end();
}

static void test_tcp_up_down_up(void)
{
	struct checker *c = checker_new();
	struct check_spec s = spec(HBLB_CHECK_TCP, ADDR_A, PORT_TCP);
	int lfd = listen_on(ADDR_A, PORT_TCP, 64);

	test_begin("tcp_listener_up_after_rise");
	if (!CHECK(lfd >= 0, "listen: %s", strerror(-lfd)) || !CHECK(c, "checker_new")) {
		checker_free(c);
		test_end();
		return;
	}
	accept_on(lfd);
	CHECK_EQ(checker_add(c, 20, &s, now_ns()), 0);
	CHECK(wait_state(c, 20, true), "not UP: %s", why_of(c, 20));
	CHECK_EQ(recs[20].ups, 1);
	CHECK_EQ(recs[20].streak, s.rise);
	CHECK(!strcmp(recs[20].why, "TCP connected"), "why: %s", recs[20].why);
	test_end();

	test_begin("tcp_listener_closed_down_after_fall");
	stop_accepting(lfd);
	CHECK(wait_state(c, 20, false), "not DOWN: %s", why_of(c, 20));
	CHECK_EQ(recs[20].downs, 1);
	CHECK_EQ(recs[20].streak, s.fall);
	CHECK(strstr(recs[20].why, "refused"), "why: %s", recs[20].why);
	test_end();

	test_begin("tcp_listener_reopened_up_again");
	lfd = listen_on(ADDR_A, PORT_TCP, 64);
	if (CHECK(lfd >= 0, "listen again: %s", strerror(-lfd))) {
		accept_on(lfd);
		CHECK(wait_state(c, 20, true), "not UP again: %s", why_of(c, 20));
		CHECK_EQ(recs[20].ups, 2);
		CHECK_EQ(recs[20].downs, 1);
		stop_accepting(lfd);
	}
	checker_free(c);
	test_end();
}

static void test_tcp_many(void)
{
	struct checker *c = checker_new();
	int lfd = listen_on(ADDR_A, PORT_MANY, 1024);
	__u32 n = N_MANY, first = 1000, up = 0;

	test_begin("tcp_200_checks_one_listener");
	if (!CHECK(lfd >= 0, "listen: %s", strerror(-lfd)) || !CHECK(c, "checker_new")) {
		checker_free(c);
		test_end();
		return;
	}
	accept_on(lfd);
	run_max_ns = 0;
	for (__u32 id = first; id < first + n; id++) {
		struct check_spec s = spec(HBLB_CHECK_TCP, ADDR_A, PORT_MANY);

		/* slower than the others: 200 runs per interval on 2 cores */
		s.interval_ms = 200;
		s.timeout_ms = 150;
		CHECK_EQ(checker_add(c, id, &s, now_ns()), 0);
	}
	CHECK(wait_for(c, all_up, first, &n), "not all UP");
	for (__u32 id = first; id < first + n; id++) {
		up += checker_state(c, id);
		CHECK_EQ(recs[id % MAX_IDS].downs, 0);
	}
	CHECK_EQ(up, n);
	printf("# 200 TCP checks: longest checker_run %.3f ms\n", run_max_ns / 1e6);
	for (__u32 id = first; id < first + n; id++)
		CHECK_EQ(checker_del(c, id), 0);
	CHECK_EQ(checker_active(c), 0);
	stop_accepting(lfd);
	checker_free(c);
	test_end();
}

/* ---- HTTP ---------------------------------------------------------------- */

static void http_case(struct checker *c, const char *name, enum http_mode mode,
		      bool up, const char *why)
{
	__u32 id = 40;

	test_begin(name);
	atomic_store(&http_mode, mode);
	CHECK(wait_state(c, id, up), "not %s: %s", up ? "UP" : "DOWN", why_of(c, id));
	CHECK(strstr(recs[id].why, why), "why: \"%s\", want \"%s\"", recs[id].why, why);
	CHECK_EQ(recs[id].streak, 2);         /* rise and fall */
	test_end();
}

static void test_http(void)
{
	struct checker *c = checker_new();
	struct check_spec s = spec(HBLB_CHECK_HTTP, ADDR_B, PORT_HTTP);
	__u32 runs = 5;

	test_begin("http_500_stays_down");
	if (!CHECK(c, "checker_new")) {
		test_end();
		return;
	}
	atomic_store(&http_mode, HM_500);
	CHECK_EQ(checker_add(c, 41, &s, now_ns()), 0);
	CHECK(wait_for(c, runs_at_least, 41, &runs), "no %u runs: %s", runs, why_of(c, 41));
	CHECK(!checker_state(c, 41), "UP on HTTP 500");
	CHECK_EQ(recs[41].ups, 0);
	CHECK(!strcmp(why_of(c, 41), "HTTP 500"), "why: %s", why_of(c, 41));
	CHECK_EQ(checker_del(c, 41), 0);
	test_end();

	CHECK_EQ(checker_add(c, 40, &s, now_ns()), 0);
	http_case(c, "http_200_up", HM_200, true, "HTTP 200");
	test_begin("http_request_format");
	pthread_mutex_lock(&http_lock);
	CHECK(!strncmp(http_last_req, "GET /health HTTP/1.0\r\n", 22), "%s", http_last_req);
	CHECK(strstr(http_last_req, "\r\nHost: " ADDR_B ":8080\r\n"), "%s", http_last_req);
	CHECK(strstr(http_last_req, "\r\nConnection: close\r\n"), "%s", http_last_req);
	CHECK(strstr(http_last_req, "\r\n\r\n") == http_last_req + strlen(http_last_req) - 4,
	      "%s", http_last_req);
	pthread_mutex_unlock(&http_lock);
	test_end();
	http_case(c, "http_500_goes_down", HM_500, false, "HTTP 500");
	http_case(c, "http_302_up", HM_302, true, "HTTP 302");
	http_case(c, "http_silent_server_times_out", HM_SILENT, false, "timeout after 30 ms");
	http_case(c, "http_status_line_in_pieces_up", HM_SPLIT, true, "HTTP 204");
	http_case(c, "http_garbage_status_line_down", HM_GARBAGE, false, "malformed status line");
	http_case(c, "http_status_without_reason_up", HM_NO_REASON, true, "HTTP 200");
	http_case(c, "http_close_without_response_down", HM_CLOSE, false, "without response");
	CHECK_EQ(recs[40].ups, 4);
	CHECK_EQ(recs[40].downs, 4);

	test_begin("http_timeout_is_counted_once_per_run");
	/* a silent server fails each run exactly once, not again at the next start */
	{
		struct check_status a, b;
		__u32 more;

		atomic_store(&http_mode, HM_SILENT);
		checker_status(c, 40, &a);
		more = a.runs + 4;
		CHECK(wait_for(c, runs_at_least, 40, &more), "runs stuck at %u", a.runs);
		checker_status(c, 40, &b);
		CHECK(strstr(b.why, "timeout after 30 ms (waiting for status line)"), "%s", b.why);
		CHECK(b.last_ns - a.last_ns >= 3 * INTERVAL_MS * 1000000ULL,
		      "4 runs in %llu ns", (unsigned long long)(b.last_ns - a.last_ns));
	}
	test_end();

	/* same host header given explicitly, and many HTTP checks at once */
	test_begin("http_100_checks_up");
	CHECK_EQ(checker_del(c, 40), 0);
	atomic_store(&http_mode, HM_200);
	{
		__u32 n = N_HTTP_MANY, first = 500;

		for (__u32 id = first; id < first + n; id++) {
			struct check_spec m = spec(HBLB_CHECK_HTTP, ADDR_B, PORT_HTTP);

			strcpy(m.host, "backend.example");
			m.interval_ms = 200;
			m.timeout_ms = 150;
			CHECK_EQ(checker_add(c, id, &m, now_ns()), 0);
		}
		CHECK(wait_for(c, all_up, first, &n), "not all UP");
		pthread_mutex_lock(&http_lock);
		CHECK(strstr(http_last_req, "\r\nHost: backend.example\r\n"), "%s", http_last_req);
		pthread_mutex_unlock(&http_lock);
		for (__u32 id = first; id < first + n; id++)
			checker_del(c, id);
	}
	test_end();
	checker_free(c);
}

/* ---- deleting a check in flight ------------------------------------------ */

static bool active_is(struct checker *c, __u32 id, const void *arg)
{
	(void)id;
	return checker_active(c) == *(const __u32 *)arg;
}

static void test_del_in_flight(void)
{
	struct check_spec http = spec(HBLB_CHECK_HTTP, ADDR_A, PORT_STUCK);
	struct check_spec tcp = spec(HBLB_CHECK_TCP, ADDR_A, PORT_FULL);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT_FULL) };
	struct checker *c = checker_new();
	/* never accepted: the HTTP run connects, sends, then waits */
	int stuck = listen_on(ADDR_A, PORT_STUCK, 16);
	/* backlog 0 holds one connection; with it taken, SYNs are dropped and
	 * the TCP run stays in connect */
	int full = listen_on(ADDR_A, PORT_FULL, 0);
	int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	__u32 one = 1, two = 2;
	int base;

	test_begin("del_in_flight_closes_sockets");
	if (!CHECK(c && stuck >= 0 && full >= 0 && filler >= 0, "setup"))
		goto out;
	sa.sin_addr.s_addr = ip(ADDR_A);
	CHECK(connect(filler, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS,
	      "filler: %s", strerror(errno));
	usleep(20000);
	base = count_fds();
	/* timeouts long enough that both runs are still in flight when deleted */
	http.interval_ms = tcp.interval_ms = 1000;
	http.timeout_ms = tcp.timeout_ms = 900;
	CHECK_EQ(checker_add(c, 60, &http, now_ns()), 0);
	CHECK_EQ(checker_add(c, 61, &tcp, now_ns()), 0);
	CHECK(wait_for(c, active_is, 0, &two), "in flight: %u", checker_active(c));
	run_for(c, 30);         /* let the HTTP request go out */
	{
		struct check_status a, b;

		checker_status(c, 60, &a);
		checker_status(c, 61, &b);
		CHECK(a.in_flight && b.in_flight && a.runs == 0 && b.runs == 0,
		      "http %d/%u (%s), tcp %d/%u (%s)", a.in_flight, a.runs, a.why,
		      b.in_flight, b.runs, b.why);
	}
	CHECK_EQ(count_fds(), base + 2);
	CHECK_EQ(checker_del(c, 60), 0);
	CHECK_EQ(checker_del(c, 61), 0);
	CHECK_EQ(checker_active(c), 0);
	CHECK_EQ(count_fds(), base);
	CHECK_EQ(checker_next_deadline(c), UINT64_MAX);
	run_for(c, 20);         /* stale events, if any, must be ignored */
	CHECK_EQ(count_fds(), base);

	/* checker_free closes what is in flight too */
	CHECK_EQ(checker_add(c, 62, &http, now_ns()), 0);
	CHECK(wait_for(c, active_is, 0, &one), "in flight: %u", checker_active(c));
	CHECK_EQ(count_fds(), base + 1);
	checker_free(c);
	c = NULL;
	CHECK_EQ(count_fds(), base - 1);        /* its epoll fd too */
out:
	checker_free(c);
	if (stuck >= 0)
		close(stuck);
	if (full >= 0)
		close(full);
	if (filler >= 0)
		close(filler);
	test_end();
}

/* ---- setup ----------------------------------------------------------------- */

static int netns_setup(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
		return -1;
	}
	if (system("ip link set lo up") ||
	    system("ip addr add " ADDR_A "/32 dev lo") ||
	    system("ip addr add " ADDR_B "/32 dev lo"))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	log_init(argc > 1 && !strcmp(argv[1], "-v"));

	test_status_parser();
	test_add_validation();
	test_stagger();

	test_begin("netns");
	if (!CHECK(netns_setup() == 0, "cannot set up the test namespace")) {
		test_end();
		return test_summary("checks");
	}
	test_end();

	test_tcp_refused();
	test_tcp_up_down_up();
	test_tcp_many();

	test_begin("http_server");
	CHECK(http_start() == 0, "cannot start the HTTP server");
	test_end();
	if (http_lfd >= 0)
		test_http();
	/* before counting fds: the server closes its ends at its own pace */
	http_stop_join();
	test_del_in_flight();

	test_begin("run_never_failed");
	CHECK_EQ(run_errors, 0);
	CHECK_EQ(n_accepting, 0);
	test_end();
	return test_summary("checks");
}
