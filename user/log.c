// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "log.h"

static int log_verbose;
static int log_journal;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!log_verbose)
		return 0;
	if (log_journal)
		fprintf(stderr, "<%d>", level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG);
	return vfprintf(stderr, fmt, ap);
}

void log_init(int verbose)
{
	log_verbose = verbose;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	libbpf_set_print(libbpf_print);
}

void log_msg(enum hblb_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {
		[LOG_ERR] = "error: ", [LOG_WARN] = "warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	va_list ap;

	if (level == LOG_DEBUG && !log_verbose)
		return;
	if (log_journal)
		fprintf(stderr, "<%d>", level);
	else
		fprintf(stderr, "hblb: %s", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
