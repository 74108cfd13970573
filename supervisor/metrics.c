/*
 * metrics.c: Prometheus metrics over HTTP (libevent's evhttp), built from
 * the supervisor's process table and the workers' last STATUS. See
 * docs/metrics.md for the names and how they map to MM2's JMX metrics.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "log.h"
#include "sup.h"

/* Escape a label value for the text exposition format. */
static void
metrics_label(struct evbuffer *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void
metrics_worker_labels(struct evbuffer *b, const struct slot *sl)
{
	evbuffer_add_printf(b, "flow=\"");
	metrics_label(b, sl->flow->name);
	evbuffer_add_printf(b, "\",role=\"%s\",worker=\"%d\"", sup_role_names[sl->role],
	    sl->index);
}

/* A numeric STATUS value, or -1 if it is not one. */
static int
metrics_number(const char *v, double *out)
{
	char *end;
	if (v == NULL || *v == '\0')
		return -1;
	*out = strtod(v, &end);
	return *end == '\0' ? 0 : -1;
}

/* "records=1 bytes=2 lag=3 latency_ms=4" -> value of one field */
static int
metrics_field(const char *v, const char *name, double *out)
{
	size_t n = strlen(name);
	for (const char *p = v; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			*out = strtod(p + n + 1, NULL);
			return 0;
		}
	return -1;
}

static const struct {
	const char *field;
	const char *metric;
	const char *type;
	const char *help;
} metrics_part_fields[] = {
	{ "records", "kmirror_partition_records_total", "counter",
	  "records replicated from this source partition (MM2 record-count)" },
	{ "bytes", "kmirror_partition_bytes_total", "counter",
	  "bytes replicated from this source partition (MM2 byte-count)" },
	{ "lag", "kmirror_partition_lag_records", "gauge",
	  "source end offset minus replicated position" },
	{ "latency_ms", "kmirror_partition_replication_latency_ms", "gauge",
	  "last record's target ack time minus its source timestamp "
	  "(MM2 replication-latency-ms)" },
	{ "age_ms", "kmirror_partition_record_age_ms", "gauge",
	  "age of the last record when it was consumed (MM2 record-age-ms)" },
};

/* Per-partition series from the source workers' "p.<topic>/<partition>". */
static void
metrics_partitions(struct evbuffer *b, struct sup *s)
{
	for (size_t f = 0; f < sizeof(metrics_part_fields) / sizeof(metrics_part_fields[0]); f++) {
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    metrics_part_fields[f].metric, metrics_part_fields[f].help,
		    metrics_part_fields[f].metric, metrics_part_fields[f].type);
		for (size_t i = 0; i < s->nflows; i++)
			for (size_t j = 0; j < s->flows[i]->nslots; j++) {
				const struct slot *sl = s->flows[i]->slots[j];
				for (size_t k = 0; k < sl->status.n; k++) {
					const char *key = sl->status.items[k].key, *slash;
					double v;
					if (strncmp(key, "p.", 2) != 0 ||
					    (slash = strrchr(key, '/')) == NULL ||
					    metrics_field(sl->status.items[k].val,
					    metrics_part_fields[f].field, &v) == -1)
						continue;
					evbuffer_add_printf(b, "%s{flow=\"", metrics_part_fields[f].metric);
					metrics_label(b, sl->flow->name);
					evbuffer_add_printf(b, "\",topic=\"%.*s\",partition=\"%s\"} %.0f\n",
					    (int)(slash - key - 2), key + 2, slash + 1, v);
				}
			}
	}
}

/* The latency histogram: "latency_hist" = "le:count,le:count,...;sum". */
static void
metrics_histogram(struct evbuffer *b, struct sup *s)
{
	evbuffer_add_printf(b, "# HELP kmirror_replication_latency_ms target ack time minus "
	    "source record timestamp, per source worker\n"
	    "# TYPE kmirror_replication_latency_ms histogram\n");
	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++) {
			const struct slot *sl = s->flows[i]->slots[j];
			const char *h = kvl_get(&sl->status, "latency_hist");
			char buf[1024], *save = NULL, *tok, *sum;
			double count = 0;
			if (h == NULL)
				continue;
			snprintf(buf, sizeof(buf), "%s", h);
			if ((sum = strchr(buf, ';')) != NULL)
				*sum++ = '\0';
			for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				char *colon = strchr(tok, ':');
				if (colon == NULL)
					continue;
				*colon = '\0';
				count = strtod(colon + 1, NULL);
				evbuffer_add_printf(b, "kmirror_replication_latency_ms_bucket{");
				metrics_worker_labels(b, sl);
				evbuffer_add_printf(b, ",le=\"%s\"} %.0f\n", tok, count);
			}
			evbuffer_add_printf(b, "kmirror_replication_latency_ms_sum{");
			metrics_worker_labels(b, sl);
			evbuffer_add_printf(b, "} %s\nkmirror_replication_latency_ms_count{", sum ? sum : "0");
			metrics_worker_labels(b, sl);
			evbuffer_add_printf(b, "} %.0f\n", count);
		}
}

/* Every other numeric STATUS value as a gauge kmirror_<role>_<key>. */
static void
metrics_status_values(struct evbuffer *b, struct sup *s)
{
	for (int role = 0; role < ROLE__COUNT; role++) {
		/* keys seen for this role, so each gets one HELP/TYPE header */
		char seen[64][64];
		int nseen = 0;
		for (size_t i = 0; i < s->nflows; i++)
			for (size_t j = 0; j < s->flows[i]->nslots; j++) {
				const struct slot *sl = s->flows[i]->slots[j];
				if ((int)sl->role != role)
					continue;
				for (size_t k = 0; k < sl->status.n && nseen < 64; k++) {
					const char *key = sl->status.items[k].key;
					double v;
					int dup = 0;
					if (strncmp(key, "p.", 2) == 0 || strlen(key) >= 48 ||
					    metrics_number(sl->status.items[k].val, &v) == -1)
						continue;
					for (int q = 0; q < nseen; q++)
						dup |= strcmp(seen[q], key) == 0;
					if (!dup)
						snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
				}
			}
		for (int q = 0; q < nseen; q++) {
			char name[128];
			snprintf(name, sizeof(name), "kmirror_%.16s_%.48s", sup_role_names[role], seen[q]);
			for (char *p = name; *p; p++)
				if (!isalnum((unsigned char)*p) && *p != '_')
					*p = '_';
			evbuffer_add_printf(b, "# TYPE %s gauge\n", name);
			for (size_t i = 0; i < s->nflows; i++)
				for (size_t j = 0; j < s->flows[i]->nslots; j++) {
					const struct slot *sl = s->flows[i]->slots[j];
					double v;
					if ((int)sl->role != role ||
					    metrics_number(kvl_get(&sl->status, seen[q]), &v) == -1)
						continue;
					evbuffer_add_printf(b, "%s{", name);
					metrics_worker_labels(b, sl);
					evbuffer_add_printf(b, "} %.17g\n", v);
				}
		}
	}
}

static void
metrics_render(struct evbuffer *b, struct sup *s)
{
	evbuffer_add_printf(b, "# HELP kmirror_up 1 while kmirrord runs\n"
	    "# TYPE kmirror_up gauge\nkmirror_up 1\n"
	    "# HELP kmirror_worker_state 1 for the state each worker slot is in\n"
	    "# TYPE kmirror_worker_state gauge\n");
	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++) {
			const struct slot *sl = s->flows[i]->slots[j];
			for (int st = 0; st < SLOT__COUNT; st++) {
				evbuffer_add_printf(b, "kmirror_worker_state{");
				metrics_worker_labels(b, sl);
				evbuffer_add_printf(b, ",state=\"%s\"} %d\n", slot_state_names[st],
				    (int)sl->state == st);
			}
		}
	evbuffer_add_printf(b, "# HELP kmirror_worker_restarts_total respawns of the slot\n"
	    "# TYPE kmirror_worker_restarts_total counter\n");
	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++) {
			const struct slot *sl = s->flows[i]->slots[j];
			evbuffer_add_printf(b, "kmirror_worker_restarts_total{");
			metrics_worker_labels(b, sl);
			evbuffer_add_printf(b, "} %u\n", sl->rs.restarts);
		}
	metrics_partitions(b, s);
	metrics_histogram(b, s);
	metrics_status_values(b, s);
}

static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	struct sup *s = arg;
	struct evbuffer *b;

	if (strcmp(evhttp_request_get_uri(req), "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics");
		return;
	}
	b = evbuffer_new();
	metrics_render(b, s);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

/* Listen on "host:port" (metrics_address); empty disables. */
int
metrics_listen(struct sup *s, const char *addr)
{
	char host[256];
	const char *colon;
	int port;

	if (addr == NULL || *addr == '\0')
		return 0;
	if ((colon = strrchr(addr, ':')) == NULL || (size_t)(colon - addr) >= sizeof(host) ||
	    (port = atoi(colon + 1)) <= 0 || port > 65535) {
		log_error("metrics_address \"%s\" must be host:port", addr);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	s->http = evhttp_new(s->base);
	if (s->http == NULL || evhttp_bind_socket(s->http, host, (unsigned short)port) == -1) {
		log_error("cannot listen for metrics on %s", addr);
		return -1;
	}
	evhttp_set_gencb(s->http, metrics_request_cb, s);
	log_info("metrics on http://%s/metrics", addr);
	return 0;
}

void
metrics_close(struct sup *s)
{
	if (s->http) {
		evhttp_free(s->http);
		s->http = NULL;
	}
}
