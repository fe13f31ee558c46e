/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One logging layer for every hblb command: severity-prefixed lines on
 * stderr (journald reads the <N> prefix when running under systemd);
 * libbpf's own messages only at -v. */
#ifndef HBLB_LOG_H
#define HBLB_LOG_H

enum hblb_log_level { LOG_ERR = 3, LOG_WARN = 4, LOG_INFO = 6, LOG_DEBUG = 7 };

void log_init(int verbose);
void log_msg(enum hblb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
