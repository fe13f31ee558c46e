/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * auth.h - authenticated heartbeats on the host side: keys from hex or a
 * key file, their fingerprints, and the tag and message hblb beat sends
 * (the XDP program checks them; hblb.h defines the format).
 */
#ifndef HBLB_AUTH_H
#define HBLB_AUTH_H

#include <stddef.h>
#include "hblb.h"

/* 32 hex digits (either case), surrounding white space allowed. Says what
 * is wrong with a message naming `what` (never the key itself). */
int auth_key_parse(const char *text, const char *what, __u8 key[HBLB_KEY_LEN]);
/* A key file: one line of 32 hex digits. Warns when others can read it. */
int auth_key_read_file(const char *path, __u8 key[HBLB_KEY_LEN]);
/* 16 hex digits that identify a key without revealing it:
 * SipHash-2-4 under the key of "hblb key fingerprint". */
void auth_key_fingerprint(const __u8 key[HBLB_KEY_LEN], char out[17]);
/* The tag over the sender's address and the message (msg, len: the
 * payload before "&auth="). */
__u64 auth_tag(const __u8 key[HBLB_KEY_LEN], __be32 saddr, const char *msg, size_t len);
/* "v=1&ready=N&busy=M&seq=S&auth=T" into out; returns its length, or
 * -ENOSPC. */
int auth_message(char *out, size_t cap, __u32 ready, __u32 busy, __u64 seq,
		 const __u8 key[HBLB_KEY_LEN], __be32 saddr);

#endif
