/*
 * msg.h: the IPC message catalogue and the key-value payload codec.
 *
 * Conversation of a worker with the supervisor:
 *   worker -> HELLO (role, flow, protocol version)
 *   supervisor -> CONFIG (the flow's settings and both clusters' properties)
 *   worker -> READY once its Kafka handles work, then STATUS every few s
 *   worker -> FATAL (exit code, reason) just before giving up for good
 *   supervisor -> STOP (drain and exit), REOPEN_LOGS, PAUSE, RESUME
 */
#ifndef KM_MSG_H
#define KM_MSG_H
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define IPC_PROTO_VERSION 1

/* Message types; names in ipc_msg_type_name(). */
enum ipc_msg_type {
	IPC_HELLO = 1,
	IPC_CONFIG,
	IPC_READY,
	IPC_STATUS,
	IPC_FATAL,
	IPC_STOP,
	IPC_REOPEN_LOGS,
	IPC_PAUSE,
	IPC_RESUME,
	IPC__TYPE_END
};

int         ipc_msg_type_valid(uint32_t type);
const char *ipc_msg_type_name(uint32_t type);
int         ipc_msg_is_empty_type(uint32_t type);

/* A decoded key-value payload: keys may repeat (lists), order is kept. */
struct kvl_item {
	char *key;
	char *val;
};
struct kvl {
	struct kvl_item *items;
	size_t           n;
	size_t           cap;
};

#define KVL_KEY_MAX 1024

int         kvl_put(struct evbuffer *b, const char *key, const char *val);
int         kvl_putf(struct evbuffer *b, const char *key, const char *fmt, ...)
                __attribute__((format(printf, 3, 4)));
int         kvl_decode(const unsigned char *p, size_t len, struct kvl *out,
                char *err, size_t errlen);
const char *kvl_get(const struct kvl *l, const char *key);
int         kvl_get_ll(const struct kvl *l, const char *key, long long *out);
void        kvl_free(struct kvl *l);

#endif
