/*
 * shard.h: which shard owns a source partition, and the text forms of the
 * progress records. Pure functions, the same in every process and host.
 */
#ifndef KM_SHARD_H
#define KM_SHARD_H
#include <stddef.h>
#include <stdint.h>

int shard_of(const char *topic, int32_t partition, int tasks);
int shard_progress_key(char *buf, size_t cap, const char *topic, int32_t partition);
int shard_progress_parse(const void *key, size_t keylen, const void *val,
        size_t vallen, char *topic, size_t topiccap, int32_t *partition,
        int64_t *next_offset);

#endif
