/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The CLI's command tables: `hblb OBJECT COMMAND [ARGS]`. */
#ifndef HBLB_COMMANDS_H
#define HBLB_COMMANDS_H

#include "cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct global_opts *g);  /* args after the command word */
	const char *help;
};

extern const struct command service_commands[];
extern const struct command backend_commands[];

int cmd_attach(int argc, char **argv, struct global_opts *g);
int cmd_detach(int argc, char **argv, struct global_opts *g);
int cmd_status(int argc, char **argv, struct global_opts *g);

#endif
