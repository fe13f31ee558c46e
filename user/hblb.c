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
#include "loader.h"
#include "log.h"

/* Loads the program privately and prints what the verifier processed:
 * the budget is 1,000,000 instructions per program. */
static int cmd_verifier_stats(int argc, char **argv, struct global_opts *g)
{
	struct hblb_load_opts o = { .no_pin = true, .log_level = 4 /* statistics only */ };
	static char log[1 << 16];
	struct hblb h;
	const char *p;
	int err;

	(void)argv; (void)g;
	if (argc) {
		pr_err("usage: hblb verifier-stats");
		return -EINVAL;
	}
	o.log_buf = log;
	o.log_size = sizeof(log);
	err = hblb_open(&h, &o);
	if (err)
		return err;
	p = strstr(log, "processed ");
	if (!p) {
		pr_err("the verifier log has no statistics line");
		hblb_close(&h);
		return -EPROTO;
	}
	printf("hblb_xdp: %.*s", (int)strcspn(p, "\n") + 1, p);
	hblb_close(&h);
	return 0;
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
	{ "verifier-stats", cmd_verifier_stats, "the verifier's instruction count for the program" },
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
