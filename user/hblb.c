// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hblb - heartbeat-driven XDP load balancer: one binary, OBJECT COMMAND. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"
#include "loader.h"
#include "log.h"

struct global_opts {
	const char *pin_dir;
	int verbose;
};

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct global_opts *g);
	const char *help;
};

static int cmd_help(int argc, char **argv, struct global_opts *g);

/* Loads the program without pins and prints what the verifier processed:
 * the budget is 1,000,000 instructions per program. */
static int cmd_verifier_stats(int argc, char **argv, struct global_opts *g)
{
	struct hblb_load_opts o = { .no_pin = true, .log_level = 4 /* statistics only */ };
	static char log[1 << 16];
	struct hblb h;
	const char *p;
	int err;

	(void)argc; (void)argv; (void)g;
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
	return cmd_daemon(argc, argv, g->pin_dir);
}

static const struct command commands[] = {
	{ "daemon", cmd_daemon_run, "the controller: attach, expire silent backends, install tables (--help)" },
	{ "verifier-stats", cmd_verifier_stats, "load the XDP program privately and print the verifier's instruction count" },
	{ "help", cmd_help, "this text" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: hblb [--pin-dir DIR] [-v] OBJECT COMMAND [ARGS]\n\n"
		   "Global options:\n"
		   "  --pin-dir DIR   bpffs directory of the pinned maps (also HBLB_PIN_DIR; default %s)\n"
		   "  -v, --verbose   debug messages, including libbpf's\n\nCommands:\n",
		HBLB_PIN_DIR_DEFAULT);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].help);
}

static int cmd_help(int argc, char **argv, struct global_opts *g)
{
	(void)argc; (void)argv; (void)g;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct global_opts g = { 0 };
	int opt, err;

	while ((opt = getopt_long(argc, argv, "+vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'P': g.pin_dir = optarg; break;
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			err = commands[i].run(argc - optind, argv + optind, &g);
			return err ? EXIT_FAILURE : EXIT_SUCCESS;
		}
	}
	pr_err("unknown command '%s': see 'hblb help'", argv[optind]);
	return EXIT_FAILURE;
}
