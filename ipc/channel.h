/*
 * channel.h: an IPC channel on a libevent bufferevent. Frames are taken as
 * soon as they are whole; any protocol error closes the channel and is
 * reported through the close callback, once.
 */
#ifndef KM_CHANNEL_H
#define KM_CHANNEL_H
#include <stdint.h>
#include "frame.h"

struct event_base;
struct evbuffer;
struct ipc_channel;

typedef void ipc_msg_cb(struct ipc_channel *ch, const struct ipc_hdr *h,
    const unsigned char *payload, void *arg);
typedef void ipc_close_cb(struct ipc_channel *ch, const char *reason, void *arg);

struct ipc_channel *ipc_channel_new(struct event_base *base, int fd,
        uint32_t flow, uint32_t gen, ipc_msg_cb *on_msg, ipc_close_cb *on_close,
        void *arg);
int  ipc_channel_send(struct ipc_channel *ch, uint32_t type,
         struct evbuffer *payload);
int  ipc_channel_flush_sync(struct ipc_channel *ch, int timeout_ms);
void ipc_channel_adopt_ids(struct ipc_channel *ch, uint32_t flow, uint32_t gen);
void ipc_channel_free(struct ipc_channel *ch);

#endif
