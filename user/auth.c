// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "auth.h"
#include "log.h"
#include "siphash.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int auth_key_parse(const char *text, const char *what, __u8 key[HBLB_KEY_LEN])
{
	size_t n;

	while (isspace((unsigned char)*text))
		text++;
	for (n = 0; n < 2 * HBLB_KEY_LEN && hex_digit(text[n]) >= 0; n++)
		;
	if (n != 2 * HBLB_KEY_LEN || (text[n] && !isspace((unsigned char)text[n]))) {
		pr_err("%s is not a key: a key is 32 hex digits (128 bits); make one with 'hblb key generate'",
		       what);
		return -EINVAL;
	}
	for (const char *p = text + n; *p; p++) {
		if (!isspace((unsigned char)*p)) {
			pr_err("%s has more than one key: a key is 32 hex digits", what);
			return -EINVAL;
		}
	}
	for (n = 0; n < HBLB_KEY_LEN; n++)
		key[n] = hex_digit(text[2 * n]) << 4 | hex_digit(text[2 * n + 1]);
	return 0;
}

int auth_key_read_file(const char *path, __u8 key[HBLB_KEY_LEN])
{
	char text[256], what[300];
	struct stat st;
	size_t len;
	FILE *f = fopen(path, "r");
	int err;

	if (!f) {
		err = -errno;
		pr_err("cannot read key file %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		pr_warn("key file %s can be read by others (mode %03o): chmod 600 it",
			path, st.st_mode & 0777);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = 0;
	snprintf(what, sizeof(what), "key file %s", path);
	err = auth_key_parse(text, what, key);
	memset(text, 0, sizeof(text));
	return err;
}

void auth_key_fingerprint(const __u8 key[HBLB_KEY_LEN], char out[17])
{
	static const char label[] = "hblb key fingerprint";
	__u64 k0, k1;

	sip_key(key, &k0, &k1);
	snprintf(out, 17, "%016llx",
		 (unsigned long long)hb_siphash24(k0, k1, label, sizeof(label) - 1));
}

__u64 auth_tag(const __u8 key[HBLB_KEY_LEN], __be32 saddr, const char *msg, size_t len)
{
	__u8 buf[HBLB_AUTH_HDR_LEN + HBLB_HB_MAX_PAYLOAD];
	__u64 k0, k1;

	if (len > HBLB_HB_MAX_PAYLOAD)
		len = HBLB_HB_MAX_PAYLOAD;
	memcpy(buf, &saddr, 4);
	memcpy(buf + 4, HBLB_AUTH_DOMAIN, 4);
	memcpy(buf + HBLB_AUTH_HDR_LEN, msg, len);
	sip_key(key, &k0, &k1);
	return hb_siphash24(k0, k1, buf, HBLB_AUTH_HDR_LEN + len);
}

int auth_message(char *out, size_t cap, __u32 ready, __u32 busy, __u64 seq,
		 const __u8 key[HBLB_KEY_LEN], __be32 saddr)
{
	int len = snprintf(out, cap, "v=1&ready=%u&busy=%u&seq=%llu", ready, busy,
			   (unsigned long long)seq);
	int all;

	if (len < 0 || (size_t)len >= cap)
		return -ENOSPC;
	all = snprintf(out + len, cap - len, HBLB_AUTH_TAIL "%016llx",
		       (unsigned long long)auth_tag(key, saddr, out, len));
	if (all < 0 || (size_t)(len + all) >= cap)
		return -ENOSPC;
	return len + all;
}
