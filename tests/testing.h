/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Minimal test harness: checks that count failures and say where, named
 * test cases, and the closing "N passed, N failed" line CI reads. */
#ifndef HBLB_TESTING_H
#define HBLB_TESTING_H

#include <stdio.h>

static int t_passed, t_failed, t_case_failed;
static const char *t_case;

#define CHECK(cond, ...) ({                                                  \
	int ok_ = !!(cond);                                                  \
	if (!ok_) {                                                          \
		t_case_failed = 1;                                           \
		fprintf(stderr, "  FAIL %s:%d [%s] %s: ", __FILE__, __LINE__,\
			t_case ? t_case : "-", #cond);                       \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
	}                                                                    \
	ok_;                                                                 \
})
#define CHECK_EQ(a, b) ({                                                    \
	long long a_ = (long long)(a), b_ = (long long)(b);                  \
	CHECK(a_ == b_, "%lld != %lld", a_, b_);                             \
})

static inline void test_begin(const char *name)
{
	t_case = name;
	t_case_failed = 0;
}

static inline void test_end(void)
{
	if (t_case_failed) {
		t_failed++;
		printf("not ok - %s\n", t_case);
	} else {
		t_passed++;
		printf("ok - %s\n", t_case);
	}
	fflush(stdout);
	t_case = NULL;
}

/* Prints the summary; the exit status is the number of failures (capped). */
static inline int test_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, t_passed, t_failed);
	return t_failed ? 1 : 0;
}

#endif
