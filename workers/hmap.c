/*
 * hmap.c: string-keyed hash map with FNV-1a hashing.
 */
#include <stdlib.h>
#include <string.h>
#include "hmap.h"

/* FNV-1a, 32 bits: also the shard function's hash, so it must not change. */
uint32_t
hmap_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static struct hmap_entry **
hmap_slot(const struct hmap *m, const char *key, uint32_t h)
{
	struct hmap_entry **pp = &m->b[h & (m->nb - 1)];
	while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
		pp = &(*pp)->next;
	return pp;
}

void *
hmap_get(const struct hmap *m, const char *key)
{
	if (m->nb == 0)
		return NULL;
	struct hmap_entry **pp = hmap_slot(m, key, hmap_hash(key));
	return *pp ? (*pp)->val : NULL;
}

static int
hmap_grow(struct hmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct hmap_entry **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return -1;
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_entry *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

/* Insert or replace. */
int
hmap_put(struct hmap *m, const char *key, void *val)
{
	uint32_t h = hmap_hash(key);
	struct hmap_entry **pp, *e;
	size_t kl = strlen(key);

	if ((m->n + 1) * 4 > m->nb * 3 && hmap_grow(m) == -1)
		return -1;
	pp = hmap_slot(m, key, h);
	if (*pp) {
		(*pp)->val = val;
		return 0;
	}
	if ((e = malloc(sizeof(*e) + kl + 1)) == NULL)
		return -1;
	e->next = NULL;
	e->hash = h;
	e->val = val;
	memcpy(e->key, key, kl + 1);
	*pp = e;
	m->n++;
	return 0;
}

void *
hmap_del(struct hmap *m, const char *key)
{
	if (m->nb == 0)
		return NULL;
	struct hmap_entry **pp = hmap_slot(m, key, hmap_hash(key)), *e = *pp;
	void *v;
	if (e == NULL)
		return NULL;
	*pp = e->next;
	v = e->val;
	free(e);
	m->n--;
	return v;
}

void
hmap_free(struct hmap *m, void (*free_val)(void *))
{
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_entry *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			if (free_val)
				free_val(e->val);
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

struct hmap_entry *
hmap_first(const struct hmap *m, size_t *it)
{
	for (*it = 0; *it < m->nb; (*it)++)
		if (m->b[*it])
			return m->b[*it];
	return NULL;
}

struct hmap_entry *
hmap_next(const struct hmap *m, struct hmap_entry *e, size_t *it)
{
	if (e->next)
		return e->next;
	for ((*it)++; *it < m->nb; (*it)++)
		if (m->b[*it])
			return m->b[*it];
	return NULL;
}
