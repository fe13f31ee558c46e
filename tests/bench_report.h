/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_report.h - each benchmark part writes its figures to its own file,
 * build/bench/<part>.json, as {"<part>": {"key": number, ...}}: one flat
 * object of numbers, so scripts/bench-report.py can merge every part into
 * report.json/.md/.png without knowing how a part was measured. Written to
 * a temporary file and renamed, so a part that fails half-way leaves no
 * half file behind (the report then lists the part as missing).
 * Included by one benchmark source each (static functions).
 */
#ifndef HBLB_BENCH_REPORT_H
#define HBLB_BENCH_REPORT_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bench_json {
	FILE *f;
	char path[4096];
	char tmp[4200];
	int n;              /* members written */
};

static int bench_mkdir_p(const char *path)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = saved;
		if (!saved)
			return 0;
	}
}

/* Starts `path` (its directory is created) with the member `part`. */
static int bench_json_open(struct bench_json *j, const char *path, const char *part)
{
	const char *slash = strrchr(path, '/');
	int err;

	memset(j, 0, sizeof(*j));
	if (strlen(path) >= sizeof(j->path))
		return -ENAMETOOLONG;
	if (slash && slash != path) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		err = bench_mkdir_p(dir);
		if (err) {
			fprintf(stderr, "cannot create %s: %s\n", dir, strerror(-err));
			return err;
		}
	}
	snprintf(j->path, sizeof(j->path), "%s", path);
	snprintf(j->tmp, sizeof(j->tmp), "%s.tmp", path);
	j->f = fopen(j->tmp, "w");
	if (!j->f) {
		err = -errno;
		fprintf(stderr, "cannot write %s: %s\n", j->tmp, strerror(-err));
		return err;
	}
	fprintf(j->f, "{\"%s\": {", part);
	return 0;
}

/* One figure; the key is printf-formatted. JSON has no NaN or infinity: such
 * a value is left out (the report then shows the figure as missing). */
static void bench_json_num(struct bench_json *j, double v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bench_json_num(struct bench_json *j, double v, const char *fmt, ...)
{
	char key[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	if (!isfinite(v)) {
		fprintf(stderr, "%s: %s is not a finite number: left out\n", j->path, key);
		return;
	}
	fprintf(j->f, "%s\n  \"%s\": %.10g", j->n++ ? "," : "", key, v);
}

/* Ends the object and renames the file into place. */
static int bench_json_close(struct bench_json *j)
{
	int err = 0;

	fprintf(j->f, "\n}}\n");
	if (fclose(j->f))
		err = -errno;
	j->f = NULL;
	if (!err && rename(j->tmp, j->path))
		err = -errno;
	if (err) {
		fprintf(stderr, "cannot write %s: %s\n", j->path, strerror(-err));
		unlink(j->tmp);
		return err;
	}
	printf("figures: %s\n", j->path);
	return 0;
}

#endif
