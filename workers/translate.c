/*
 * translate.c: the offset-sync store and the offset translation; see
 * translate.h for the rule and why it is exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "translate.h"

const char *const tr_kind_names[TR__COUNT] = { "none", "exact", "conservative" };

void
tr_part_init(struct tr_part *p, uint32_t dense)
{
	memset(p, 0, sizeof(*p));
	p->dense = dense ? dense : TR_DENSE_DEFAULT;
}

void
tr_part_free(struct tr_part *p)
{
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

static int64_t
tr_delta(const struct tr_sync *s)
{
	return s->down - s->up;
}

/* floor(log2(d)) for d >= 1. */
static int
tr_bucket(int64_t d)
{
	return 63 - __builtin_clzll((unsigned long long)(d > 0 ? d : 1));
}

/*
 * Keep the newest `dense` syncs and, older than those, the newest sync of
 * each power-of-two distance from the newest, plus the oldest. A dropped
 * sync keeps its neighbours' link proven only if the syncs around it were
 * linked and collinear (so the segment still holds).
 */
static void
tr_part_thin(struct tr_part *p)
{
	uint32_t n = p->n, w = 0, sparse;
	int64_t newest;

	if (n < p->dense + p->dense / 2 + 66)
		return;
	sparse = n - p->dense;
	newest = p->v[n - 1].up;
	for (uint32_t i = 0; i < n; i++) {
		int keep = i == 0 || i + 1 >= sparse ||
		    tr_bucket(newest - p->v[i].up) != tr_bucket(newest - p->v[i + 1].up);
		if (keep) {
			p->v[w++] = p->v[i];
			continue;
		}
		struct tr_sync *a = &p->v[w - 1], *b = &p->v[i];
		a->linked = a->linked && b->linked && tr_delta(a) == tr_delta(b);
		a->proven = a->proven && b->proven;
		if (b->mindelta < a->mindelta)
			a->mindelta = b->mindelta;
	}
	p->n = w;
}

/*
 * Add the next sync of a partition. `proven`: nothing can have been missed
 * between the previous sync and this one. A sync that does not move
 * forward on both sides (a rewind, a recreated topic) restarts the
 * partition, as MM2 does. Returns 0 added, 1 a repeat (ignored), 2 the
 * partition was restarted, -1 out of memory.
 */
int
tr_part_add(struct tr_part *p, int64_t up, int64_t down, int proven)
{
	int rc = 0;

	if (up < 0 || down < 0)
		return 1;
	if (p->n > 0) {
		struct tr_sync *last = &p->v[p->n - 1];
		if (up == last->up && down == last->down)
			return 1;
		if (up <= last->up || down <= last->down) {
			p->n = 0;
			rc = 2;
		} else {
			last->linked = last->proven = proven ? 1 : 0;
			/* the last sync sits on the segment of the one before:
			 * drop it without losing anything */
			if (p->n >= 2 && last->linked && p->v[p->n - 2].linked &&
			    tr_delta(last) == tr_delta(&p->v[p->n - 2]))
				p->n--;
		}
	}
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 8;
		struct tr_sync *v = realloc(p->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct tr_sync){ up, down, down - up, 0, 0 };
	tr_part_thin(p);
	if (p->cap > 64 && p->n < p->cap / 4) {
		struct tr_sync *v = realloc(p->v, (p->cap / 2) * sizeof(*v));
		if (v) {
			p->v = v;
			p->cap /= 2;
		}
	}
	return rc;
}

/* Translate group offset g; see translate.h. */
enum tr_kind
tr_part_translate(const struct tr_part *p, int64_t g, int64_t *down)
{
	uint32_t lo = 0, hi;
	const struct tr_sync *s, *nx;

	if (p == NULL || p->n == 0 || g < 0 || g < p->v[0].up)
		return TR_NONE;
	/* the last sync with up <= g */
	hi = p->n;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->v[mid].up <= g)
			lo = mid;
		else
			hi = mid;
	}
	s = &p->v[lo];
	if (g == s->up) {
		*down = s->down;
		return TR_EXACT;
	}
	nx = lo + 1 < p->n ? &p->v[lo + 1] : NULL;
	if (nx && s->linked) {
		int64_t d = s->down + (g - s->up);
		*down = d < nx->down ? d : nx->down;
		return TR_EXACT;
	}
	*down = s->down + 1;
	if (nx && s->proven && g + s->mindelta > *down)
		*down = g + s->mindelta < nx->down ? g + s->mindelta : nx->down;
	return g == s->up + 1 ? TR_EXACT : TR_CONSERVATIVE;
}

void
tr_store_init(struct tr_store *s, uint32_t dense)
{
	memset(s, 0, sizeof(*s));
	s->next_log_offset = -1;
	s->dense = dense ? dense : TR_DENSE_DEFAULT;
}

static void
tr_part_free_cb(void *v)
{
	tr_part_free(v);
	free(v);
}

void
tr_store_free(struct tr_store *s)
{
	hmap_free(&s->parts, tr_part_free_cb);
	memset(&s->parts, 0, sizeof(s->parts));
}

static void
tr_key(char *out, size_t cap, const char *topic, int32_t partition)
{
	snprintf(out, cap, "%s/%d", topic, (int)partition);
}

/*
 * A sync read at `log_offset` of the offset-syncs topic. Offsets of that
 * topic are consecutive (one idempotent producer); a jump means records
 * were removed (compaction, retention), which may have hidden syncs of
 * any partition, so links across it are not proven.
 */
int
tr_store_add(struct tr_store *s, int64_t log_offset, const char *topic,
    int32_t partition, int64_t up, int64_t down)
{
	char key[320];
	struct tr_part *p;
	int rc;

	if (s->next_log_offset >= 0 && log_offset != s->next_log_offset) {
		s->epoch++;
		s->gaps++;
	}
	s->next_log_offset = log_offset + 1;
	tr_key(key, sizeof(key), topic, partition);
	if ((p = hmap_get(&s->parts, key)) == NULL) {
		if ((p = malloc(sizeof(*p))) == NULL)
			return -1;
		tr_part_init(p, s->dense);
		if (hmap_put(&s->parts, key, p) == -1) {
			free(p);
			return -1;
		}
	}
	rc = tr_part_add(p, up, down, p->n > 0 && p->epoch == s->epoch);
	if (rc == -1)
		return -1;
	if (rc != 1)
		p->epoch = s->epoch;
	if (rc == 2)
		s->resets++;
	s->syncs++;
	return 0;
}

enum tr_kind
tr_translate(const struct tr_store *s, const char *topic, int32_t partition,
    int64_t g, int64_t *down)
{
	char key[320];

	tr_key(key, sizeof(key), topic, partition);
	return tr_part_translate(hmap_get(&s->parts, key), g, down);
}

/* Approximate heap held by the store. */
size_t
tr_store_bytes(const struct tr_store *s)
{
	struct hmap_entry *e;
	size_t it, b = s->parts.nb * sizeof(void *);

	for (e = hmap_first(&s->parts, &it); e; e = hmap_next(&s->parts, e, &it)) {
		const struct tr_part *p = e->val;
		b += sizeof(*e) + strlen(e->key) + 1 + sizeof(*p) + p->cap * sizeof(struct tr_sync);
	}
	return b;
}
