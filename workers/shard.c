/*
 * shard.c: the shard function and the progress record format.
 * Progress: key "<topic>/<partition>", value the next source offset in
 * decimal; readable with any console consumer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "shard.h"

/* Partitions of one topic spread over consecutive shards. */
int
shard_of(const char *topic, int32_t partition, int tasks)
{
	if (tasks <= 1)
		return 0;
	return (int)(((uint64_t)hmap_hash(topic) + (uint32_t)partition) % (uint32_t)tasks);
}

int
shard_progress_key(char *buf, size_t cap, const char *topic, int32_t partition)
{
	int n = snprintf(buf, cap, "%s/%d", topic, (int)partition);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Parse one progress record; -1 if it is not one of ours. */
int
shard_progress_parse(const void *key, size_t keylen, const void *val, size_t vallen,
    char *topic, size_t topiccap, int32_t *partition, int64_t *next_offset)
{
	char kb[512], vb[32], *slash, *end;
	long long p, o;

	if (key == NULL || val == NULL || keylen == 0 || keylen >= sizeof(kb) ||
	    vallen == 0 || vallen >= sizeof(vb))
		return -1;
	memcpy(kb, key, keylen);
	kb[keylen] = '\0';
	memcpy(vb, val, vallen);
	vb[vallen] = '\0';
	if ((slash = strrchr(kb, '/')) == NULL || slash == kb)
		return -1;
	*slash = '\0';
	errno = 0;
	p = strtoll(slash + 1, &end, 10);
	if (errno || *end || p < 0 || p > INT32_MAX)
		return -1;
	o = strtoll(vb, &end, 10);
	if (errno || *end || o < 0)
		return -1;
	if (strlen(kb) >= topiccap)
		return -1;
	strcpy(topic, kb);
	*partition = (int32_t)p;
	*next_offset = o;
	return 0;
}
