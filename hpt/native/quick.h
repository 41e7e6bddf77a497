/* hpt fast lane in C (quick.c; driven by hpt/iscsi/quick.py through cffi). */
#include <stdint.h>
#include <stddef.h>
struct quick_lu {
    int64_t fd;          /* the store's file descriptor, or -1 */
    uint8_t *mem;        /* the store's memory, or NULL */
    uint8_t *page_map;   /* memory stores: one byte per page, set to 1 when written (or NULL) */
    uint64_t page_size;
    uint64_t nblocks;    /* logical blocks on the medium */
    uint32_t block_size;
    uint32_t max_blocks; /* MAXIMUM TRANSFER LENGTH (0: no limit) */
    uint32_t lun;        /* peripheral-addressed LUN, below 256 */
    uint32_t ok;         /* 1: READs may take the lane now, 2: WRITEs (LogicalUnit.enter_quick) */
    uint32_t aio;        /* 1: READs and WRITEs go through Linux AIO, submitted together (O_DIRECT) */
    uint32_t align;      /* buffer, offset and length alignment READs need (O_DIRECT), or 0 */
    uint32_t d_sense;    /* descriptor-format sense (control mode page D_SENSE) */
    uint32_t zero;       /* a store that holds nothing (null): READs read zeroes, WRITEs are dropped */
    uint64_t errors;     /* out: READs the store failed (answered CHECK CONDITION, MEDIUM ERROR) */
    uint64_t write_errors; /* out: WRITEs the store failed (the same) */
    uint64_t reads;      /* out: READs answered by this call */
    uint64_t read_bytes;
    uint64_t writes;     /* out: WRITEs answered by this call */
    uint64_t written;
};
struct quick_conn {
    uint32_t exp_cmdsn;   /* in and out: ExpCmdSN */
    uint32_t queue_depth; /* MaxCmdSN = ExpCmdSN + queue_depth - 1 */
    uint32_t statsn;      /* in and out: the next StatSN */
    uint32_t max_len;     /* the largest READ one Data-In and one ring slot carry */
    uint32_t max_data;    /* the largest immediate data segment taken (MaxRecvDataSegmentLength) */
    uint32_t more;        /* out: 1 when it stopped at a PDU it takes once the rest of it is received */
    uint64_t taken;       /* out: bytes of the input taken */
    uint64_t aio_ctx;     /* the connection's Linux AIO context (quick_aio_open), or 0 */
    int32_t sock;         /* a socket to send the answers on (their slots then freed), or -1 */
    int32_t send_error;   /* out: errno of a failed send (the connection is lost), or 0 */
    uint32_t nowait;      /* send without waiting (MSG_DONTWAIT): what the socket does not take is left */
    uint32_t partial;     /* out: the socket took only c->sent bytes; the slots are still held */
    uint64_t sent;        /* out: bytes of the answers sent */
    uint32_t zero_reads;  /* 1: a READ of a LU that holds nothing takes no slot (NO_SLOT): the driver sends
                             zeroes of its own (iSER: a registered zero buffer) */
    uint32_t pad;
};
int quick_aio_open(struct quick_conn *c);
void quick_aio_close(struct quick_conn *c);
int64_t quick_burst(void *ring, const uint8_t *in, uint64_t len, struct quick_conn *c,
                    struct quick_lu *lus, uint32_t nlus, uint8_t *hdrs, uint32_t *slots, uint32_t *lens,
                    uint32_t max_n);
void ring_free_many(void *ring, const uint32_t *slots, uint32_t n);
