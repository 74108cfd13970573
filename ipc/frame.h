/*
 * frame.h: the IPC framing between the supervisor and its workers.
 *
 * Every message is a 24-byte header followed by the payload:
 *   u32 type | u32 payload length | u32 flow id | u32 sender pid |
 *   u32 generation | u32 sequence            (all big-endian)
 * The sequence starts at 1 on each channel and grows by one per message; a
 * gap, an unknown type or an oversize length is a protocol error, which is
 * fatal for the channel.
 */
#ifndef KM_FRAME_H
#define KM_FRAME_H
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define IPC_HDR_LEN      24
#define IPC_MAX_PAYLOAD  (1024 * 1024)

struct ipc_hdr {
	uint32_t type;
	uint32_t len;
	uint32_t flow;
	uint32_t pid;
	uint32_t gen;
	uint32_t seq;
};

void ipc_hdr_pack(const struct ipc_hdr *h, unsigned char out[IPC_HDR_LEN]);
void ipc_hdr_unpack(const unsigned char in[IPC_HDR_LEN], struct ipc_hdr *h);

/* Results of ipc_frame_take(). */
enum ipc_take {
	IPC_TAKE_ERROR = -1,	/* protocol error: close the channel */
	IPC_TAKE_MORE = 0,	/* not a whole message yet */
	IPC_TAKE_OK = 1		/* one message taken */
};

int ipc_frame_add(struct evbuffer *out, const struct ipc_hdr *h,
        const void *payload);
int ipc_frame_take(struct evbuffer *in, uint32_t expect_seq, struct ipc_hdr *h,
        unsigned char **payload, char *err, size_t errlen);

#endif
