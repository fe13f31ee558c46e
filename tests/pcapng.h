/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reads the frames of a little-endian pcapng file (Enhanced Packet Blocks
 * only), enough for the Apache heartbeat capture in shared/heartbeat. */
#ifndef HBLB_TEST_PCAPNG_H
#define HBLB_TEST_PCAPNG_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_EPB 0x00000006u

/* Calls fn(frame, len, arg) for every captured frame until fn returns
 * non-zero; returns that value, 0 at the end, or -errno. */
static inline int pcapng_each(const char *path,
			      int (*fn)(const uint8_t *frame, uint32_t len, void *arg), void *arg)
{
	uint8_t *buf = NULL;
	long size;
	size_t off = 0;
	FILE *f = fopen(path, "rb");
	int ret = 0;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 12 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EINVAL;
	}
	buf = malloc(size);
	if (!buf || fread(buf, 1, size, f) != (size_t)size) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if (*(uint32_t *)buf != PCAPNG_SHB || *(uint32_t *)(buf + 8) != 0x1a2b3c4d) {
		free(buf);
		return -EPROTO;         /* not pcapng, or big-endian */
	}
	while (off + 12 <= (size_t)size) {
		uint32_t type = *(uint32_t *)(buf + off), blen = *(uint32_t *)(buf + off + 4);

		if (blen < 12 || blen % 4 || off + blen > (size_t)size) {
			ret = -EPROTO;
			break;
		}
		if (type == PCAPNG_EPB && blen >= 32) {
			uint32_t caplen = *(uint32_t *)(buf + off + 20);

			if (28 + caplen > blen) {
				ret = -EPROTO;
				break;
			}
			ret = fn(buf + off + 28, caplen, arg);
			if (ret)
				break;
		}
		off += blen;
	}
	free(buf);
	return ret;
}

#endif
