// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hblb - heartbeat-driven XDP load balancer: one binary, OBJECT COMMAND. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "beat.h"
#include "commands.h"
#include "daemon.h"
#include "floor_pass.skel.h"
#include "floor_tx.skel.h"
#include "loader.h"
#include "log.h"

/* The statistics line of a verifier log ("processed N insns (limit ...")
 * printed for one program and configuration; -EPROTO if there is none. */
static int print_verifier_line(const char *prog, const char *config, const char *log)
{
	const char *p = strstr(log, "processed ");

	if (!p) {
		pr_err("%s (%s): the verifier log has no statistics line", prog, config);
		return -EPROTO;
	}
	printf("%-16s %-44s %.*s\n", prog, config, (int)strcspn(p, "\n"), p);
	return 0;
}

/* The baseline programs the benchmark times hblb against. */
static int floor_stats(void)
{
	static char log[1 << 14];
	struct floor_pass_bpf *fp;
	struct floor_tx_bpf *ft;
	int err;

	fp = floor_pass_bpf__open();
	if (!fp)
		return -errno;
	log[0] = 0;
	bpf_program__set_log_level(fp->progs.floor_pass, 4);
	bpf_program__set_log_buf(fp->progs.floor_pass, log, sizeof(log));
	err = floor_pass_bpf__load(fp);
	if (!err)
		err = print_verifier_line("floor_pass", "benchmark floor", log);
	floor_pass_bpf__destroy(fp);
	if (err)
		return err;
	ft = floor_tx_bpf__open();
	if (!ft)
		return -errno;
	log[0] = 0;
	bpf_program__set_log_level(ft->progs.floor_tx, 4);
	bpf_program__set_log_buf(ft->progs.floor_tx, log, sizeof(log));
	err = floor_tx_bpf__load(ft);
	if (!err)
		err = print_verifier_line("floor_tx", "benchmark floor", log);
	floor_tx_bpf__destroy(ft);
	return err;
}

/*
 * Loads every program privately (no pins) and prints what the verifier
 * processed of its 1,000,000-instruction budget: hblb_xdp and the
 * benchmark entry point in the default configuration and with each
 * load-time size at the largest the loader accepts. The sizes' product
 * does not fit in memory (65,536 services x two 65,537-entry tables is
 * 17 GB), so each maximum is loaded on its own with the others small.
 */
static int cmd_verifier_stats(int argc, char **argv, struct global_opts *g)
{
	static const struct {
		const char *name;
		__u32 max_services, table_size, flow_buckets;
	} configs[] = {
		{ "default", 0, 0, 0 },
		{ "max services: 65536, table 251", 65536, 251, 1024 },
		{ "max table: 16777213 (largest prime < 2^24)", 1, 16777213, 1024 },
		{ "max flow table: 2^24 buckets (1 GiB)", 1, 251, 1u << 24 },
	};
	static char log[1 << 16], bench_log[1 << 16];
	char name[128];
	int err;

	(void)argv; (void)g;
	if (argc) {
		pr_err("usage: hblb verifier-stats");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		struct hblb_load_opts o = {
			.no_pin = true, .bench = true, .log_level = 4 /* statistics only */,
			.log_buf = log, .bench_log_buf = bench_log, .log_size = sizeof(log),
			.max_services = configs[i].max_services, .table_size = configs[i].table_size,
			.flow_buckets = configs[i].flow_buckets,
		};
		struct hblb h;

		log[0] = bench_log[0] = 0;
		err = hblb_open(&h, &o);
		if (err) {
			pr_err("configuration '%s' does not load: %s", configs[i].name, strerror(-err));
			return err;
		}
		snprintf(name, sizeof(name), "%s", configs[i].name);
		err = print_verifier_line("hblb_xdp", name, log);
		if (!err)
			err = print_verifier_line("hblb_bench_vary", name, bench_log);
		hblb_close(&h);
		if (err)
			return err;
	}
	return floor_stats();
}

static int cmd_daemon_run(int argc, char **argv, struct global_opts *g)
{
	/* getopt in cmd_daemon wants the command word as argv[0] */
	return cmd_daemon(argc + 1, argv - 1, g->pin_dir);
}

static int cmd_help(int argc, char **argv, struct global_opts *g);
static int cmd_batch(int argc, char **argv, struct global_opts *g);

static const struct command top_commands[] = {
	{ "attach", cmd_attach, "DEV [mode native|generic]   load onto the pinned maps and attach" },
	{ "detach", cmd_detach, "DEV   detach hblb's program from DEV" },
	{ "status", cmd_status, "every service and backend at a glance, then counters" },
	{ "batch", cmd_batch, "FILE|-   service and backend commands, one a line: all applied, or none" },
	{ "daemon", cmd_daemon_run, "[OPTIONS]   the controller (see 'hblb daemon --help')" },
	{ "beat", cmd_beat, "[OPTIONS]   send heartbeats from a backend (see 'hblb beat --help')" },
	{ "verifier-stats", cmd_verifier_stats, "instructions the verifier processed, per program and configuration" },
	{ "help", cmd_help, "this text" },
	{ NULL, NULL, NULL },
};

static const struct object {
	const char *name;
	const struct command *commands;
} objects[] = {
	{ "service", service_commands },
	{ "backend", backend_commands },
	{ "key", key_commands },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: hblb [OPTIONS] OBJECT COMMAND [ARGS]  |  hblb [OPTIONS] COMMAND [ARGS]\n\n"
		   "Options:\n"
		   "  --pin-dir DIR   bpffs directory of the pinned maps (also HBLB_PIN_DIR; default %s)\n"
		   "  -j, --json      JSON output        -p, --pretty   indented JSON (implies -j)\n"
		   "  -v, --verbose   debug messages, including libbpf's\n\n",
		HBLB_PIN_DIR_DEFAULT);
	for (size_t o = 0; o < sizeof(objects) / sizeof(objects[0]); o++)
		for (const struct command *c = objects[o].commands; c->name; c++)
			fprintf(f, "  %s %s %s\n", objects[o].name, c->name, c->help);
	for (const struct command *c = top_commands; c->name; c++)
		fprintf(f, "  %s %s\n", c->name, c->help);
}

static int cmd_help(int argc, char **argv, struct global_opts *g)
{
	(void)argc; (void)argv; (void)g;
	usage(stdout);
	return 0;
}

static int object_help(const struct object *o, FILE *f)
{
	fprintf(f, "Usage: hblb %s COMMAND\n", o->name);
	for (const struct command *c = o->commands; c->name; c++)
		fprintf(f, "  hblb %s %s %s\n", o->name, c->name, c->help);
	fprintf(f, "  hblb %s help\n", o->name);
	return 0;
}

static int run_command(const struct command *c, int argc, char **argv, struct global_opts *g)
{
	/* `hblb OBJECT COMMAND help` and `--help` print the command's usage */
	if (argc == 1 && (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help")) &&
	    strcmp(c->name, "daemon") && strcmp(c->name, "beat")) {
		printf("%s %s\n", c->name, c->help);
		return 0;
	}
	return c->run(argc, argv, g);
}

/* `hblb OBJECT COMMAND ARGS`, argv after the object word. */
static int run_object(const struct object *o, int argc, char **argv, struct global_opts *g)
{
	const char *cmd = argc ? argv[0] : "help";

	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help"))
		return object_help(o, stdout);
	for (const struct command *c = o->commands; c->name; c++)
		if (!strcmp(cmd, c->name))
			return run_command(c, argc - 1, argv + 1, g);
	pr_err("unknown command '%s %s': see 'hblb %s help'", o->name, cmd, o->name);
	return -EINVAL;
}

/* Splits a line into words at blanks; '#' starts a comment. The number
 * of words, or -E2BIG. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;

	for (char *p = line;;) {
		p += strspn(p, " \t\r\n");
		if (!*p || *p == '#')
			return n;
		if (n == max)
			return -E2BIG;
		words[n++] = p;
		p += strcspn(p, " \t\r\n");
		if (*p)
			*p++ = 0;
	}
}

/* hblb batch FILE|-: like `ip -batch`, a command per line (without the
 * leading "hblb"), under one lock, told to the daemon with one generation
 * bump: 10,000 backends are added in one process and one table rebuild.
 * The first failing line stops the batch and undoes all of it. */
static int cmd_batch(int argc, char **argv, struct global_opts *g)
{
	const char *path = argc == 1 ? argv[0] : NULL;
	char *line = NULL, *words[32];
	int err = 0, n, lineno = 0;
	bool began;
	size_t cap = 0;
	FILE *f;

	if (!path) {
		pr_err("usage: hblb batch FILE|-   (service and backend commands, one a line)");
		return -EINVAL;
	}
	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		err = -errno;
		pr_err("cannot read %s: %s", path, strerror(-err));
		return err;
	}
	err = batch_begin(g);
	began = !err;
	while (!err && getline(&line, &cap, f) >= 0) {
		const struct object *o = NULL;

		lineno++;
		n = split_words(line, words, sizeof(words) / sizeof(words[0]));
		if (n == 0)
			continue;
		for (size_t i = 0; n > 0 && i < sizeof(objects) / sizeof(objects[0]); i++)
			if (!strcmp(words[0], objects[i].name))
				o = &objects[i];
		if (n < 0)
			pr_err("too many words");
		else if (!o)
			pr_err("'%s': only service and backend commands can be batched", words[0]);
		err = n < 0 ? n : !o ? -EINVAL : run_object(o, n - 1, words + 1, g);
		if (err)
			pr_err("%s:%d: failed: the batch is undone, nothing changed",
			       f == stdin ? "stdin" : path, lineno);
	}
	if (!err && ferror(f)) {
		err = -EIO;
		pr_err("cannot read %s: the batch is undone, nothing changed", path);
	}
	if (began) {
		int end = batch_end(!err);

		err = err ? err : end;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct global_opts g = { 0 };
	const char *word;
	int opt, err = -EINVAL;

	while ((opt = getopt_long(argc, argv, "+jpvh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'P': g.pin_dir = optarg; break;
		case 'j': g.json = true; break;
		case 'p': g.json = g.pretty = true; break;
		case 'v': g.verbose = 1; break;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		default: usage(stderr); return EXIT_FAILURE;
		}
	}
	log_init(g.verbose);
	if (optind >= argc) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	word = argv[optind];
	for (size_t o = 0; o < sizeof(objects) / sizeof(objects[0]); o++)
		if (!strcmp(word, objects[o].name))
			return run_object(&objects[o], argc - optind - 1, argv + optind + 1, &g) ?
			       EXIT_FAILURE : EXIT_SUCCESS;
	for (const struct command *c = top_commands; c->name; c++)
		if (!strcmp(word, c->name)) {
			err = run_command(c, argc - optind - 1, argv + optind + 1, &g);
			return err ? EXIT_FAILURE : EXIT_SUCCESS;
		}
	pr_err("unknown command '%s': see 'hblb help'", word);
	return EXIT_FAILURE;
}
