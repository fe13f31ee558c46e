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

static const struct command top_commands[] = {
	{ "attach", cmd_attach, "DEV [mode native|generic]   load onto the pinned maps and attach" },
	{ "detach", cmd_detach, "DEV   detach hblb's program from DEV" },
	{ "status", cmd_status, "every service and backend at a glance, then counters" },
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
	for (size_t o = 0; o < sizeof(objects) / sizeof(objects[0]); o++) {
		const char *cmd;

		if (strcmp(word, objects[o].name))
			continue;
		cmd = optind + 1 < argc ? argv[optind + 1] : "help";
		if (!strcmp(cmd, "help") || !strcmp(cmd, "--help"))
			return object_help(&objects[o], stdout), EXIT_SUCCESS;
		for (const struct command *c = objects[o].commands; c->name; c++)
			if (!strcmp(cmd, c->name))
				return run_command(c, argc - optind - 2, argv + optind + 2, &g) ?
				       EXIT_FAILURE : EXIT_SUCCESS;
		pr_err("unknown command '%s %s': see 'hblb %s help'", word, cmd, word);
		return EXIT_FAILURE;
	}
	for (const struct command *c = top_commands; c->name; c++)
		if (!strcmp(word, c->name)) {
			err = run_command(c, argc - optind - 1, argv + optind + 1, &g);
			return err ? EXIT_FAILURE : EXIT_SUCCESS;
		}
	pr_err("unknown command '%s': see 'hblb help'", word);
	return EXIT_FAILURE;
}
