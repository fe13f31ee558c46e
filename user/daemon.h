/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef HBLB_DAEMON_H
#define HBLB_DAEMON_H

/* `hblb daemon [OPTIONS]`: argv[0] is "daemon". Returns 0 or -errno. */
int cmd_daemon(int argc, char **argv, const char *pin_dir);

#endif
