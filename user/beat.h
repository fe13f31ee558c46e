/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef HBLB_BEAT_H
#define HBLB_BEAT_H

#include "cli.h"

/* `hblb beat [OPTIONS]`: argv holds the options after the command word. */
int cmd_beat(int argc, char **argv, struct global_opts *g);

#endif
