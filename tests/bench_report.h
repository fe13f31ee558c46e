/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_report.h - build/bench/report.json is shared by the benchmarks:
 * each replaces its own top-level member and keeps the others verbatim.
 * Included by one benchmark source each (static functions).
 */
#ifndef HBLB_BENCH_REPORT_H
#define HBLB_BENCH_REPORT_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"

static int mkdir_p(const char *path)
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

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p == '"' ? p + 1 : NULL;
}

/* Past one JSON value (not validated beyond its nesting), or NULL. */
static const char *skip_value(const char *p)
{
	int depth = 0;

	if (*p == '"')
		return skip_string(p);
	if (*p != '{' && *p != '[') {
		/* number or literal */
		while (*p && !strchr(",}] \t\r\n", *p))
			p++;
		return p;
	}
	do {
		if (*p == '"') {
			p = skip_string(p);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		else if (*p == '\0')
			return NULL;
		p++;
	} while (depth > 0);
	return p;
}

/* Writes the top-level members of the JSON object `in`, other than `skip`,
 * as ",\n"-separated "key": value text; false if `in` is not an object
 * this can take apart (the caller then starts a new file). */
static bool copy_other_members(const char *in, FILE *out, int *written, const char *skip)
{
	const char *p = skip_ws(in);

	if (*p++ != '{')
		return false;
	p = skip_ws(p);
	if (*p == '}')
		return *skip_ws(p + 1) == '\0';
	for (;;) {
		const char *key = p, *key_end, *val, *val_end;

		if (*p != '"' || !(key_end = skip_string(p)))
			return false;
		p = skip_ws(key_end);
		if (*p++ != ':')
			return false;
		val = skip_ws(p);
		val_end = skip_value(val);
		if (!val_end || val_end == val)
			return false;
		if (!((size_t)(key_end - key) == strlen(skip) + 2 &&
		      !memcmp(key + 1, skip, strlen(skip)))) {
			fprintf(out, "%s  %.*s: %.*s", *written ? ",\n" : "",
				(int)(key_end - key), key, (int)(val_end - val), val);
			(*written)++;
		}
		p = skip_ws(val_end);
		if (*p == '}')
			return *skip_ws(p + 1) == '\0';
		if (*p++ != ',')
			return false;
		p = skip_ws(p);
	}
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc(len + 1))) {
		if (fread(buf, 1, len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		} else {
			buf[len] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* Prints the member, e.g. `  "datapath": { ... }`, without a trailing comma. */
typedef void (*report_member_fn)(FILE *f, const void *arg);

/*
 * Replaces the member `key` of <dir>/report.json with what `fn` prints and
 * keeps the others verbatim; a file it cannot take apart is replaced whole
 * (with a warning). Written to a temporary file and renamed, so a reader
 * never sees half a report; two benchmarks writing at once would lose one
 * update (make runs them one after the other).
 */
static int report_merge(const char *dir, const char *key, report_member_fn fn, const void *arg)
{
	char path[4096], tmp[4200];
	int written = 0, err;
	char *old;
	FILE *f;

	err = mkdir_p(dir);
	if (err) {
		pr_err("cannot create %s: %s", dir, strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "%s/report.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		err = -errno;
		pr_err("cannot write %s: %s", tmp, strerror(-err));
		return err;
	}
	fprintf(f, "{\n");
	old = read_file(path);
	if (old && !copy_other_members(old, f, &written, key)) {
		pr_warn("%s is not a JSON object this tool can merge into: replacing it", path);
		/* start again: the partial copy is in f */
		rewind(f);
		if (ftruncate(fileno(f), 0))
			pr_warn("cannot truncate %s", tmp);
		fprintf(f, "{\n");
		written = 0;
	}
	free(old);
	if (written)
		fprintf(f, ",\n");
	fn(f, arg);
	fprintf(f, "\n}\n");
	if (fclose(f)) {
		err = -errno;
		pr_err("cannot write %s: %s", tmp, strerror(-err));
		unlink(tmp);
		return err;
	}
	if (rename(tmp, path)) {
		err = -errno;
		pr_err("cannot rename %s to %s: %s", tmp, path, strerror(-err));
		unlink(tmp);
		return err;
	}
	printf("report: %s\n", path);
	return 0;
}

#endif
