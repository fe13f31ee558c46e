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
extern const struct command key_commands[];

/* Fails with a message if some backend address would be in two services
 * whose current keys differ, once ovr_target has key ovr (NULL: none)
 * and the backend extra (NULL: none) is added. */
int key_conflict_check(const struct pins *p, const struct hblb_service_key *ovr_target,
		       const struct hblb_cfg_key *ovr, const struct hblb_cfg_backend_key *extra);

int cmd_attach(int argc, char **argv, struct global_opts *g);
int cmd_detach(int argc, char **argv, struct global_opts *g);
int cmd_status(int argc, char **argv, struct global_opts *g);

#endif
