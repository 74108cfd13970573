/*
 * hmap.h: a small string-keyed hash map (chained, power-of-two buckets)
 * for per-topic and per-partition state. Keys are copied; values are the
 * caller's.
 */
#ifndef KM_HMAP_H
#define KM_HMAP_H
#include <stddef.h>
#include <stdint.h>

struct hmap_entry {
	struct hmap_entry *next;
	uint32_t           hash;
	void              *val;
	char               key[];
};

struct hmap {
	struct hmap_entry **b;
	size_t              nb;
	size_t              n;
};

uint32_t hmap_hash(const char *s);
void   *hmap_get(const struct hmap *m, const char *key);
int     hmap_put(struct hmap *m, const char *key, void *val);
void   *hmap_del(struct hmap *m, const char *key);
void    hmap_free(struct hmap *m, void (*free_val)(void *));

/* Iterate: for (e = hmap_first(m, &i); e; e = hmap_next(m, e, &i)) */
struct hmap_entry *hmap_first(const struct hmap *m, size_t *it);
struct hmap_entry *hmap_next(const struct hmap *m, struct hmap_entry *e, size_t *it);

#endif
