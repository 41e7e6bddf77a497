/* hpt's verbs data path in C (verbs.c; driven by hpt/native/verbs.py through cffi). */
#include <stdint.h>
#include <stddef.h>
struct hv_device {
    void *ctx;          /* the RDMA device's context (the listener's rdma_cm_id->verbs) */
    void *pd;
    void *channel;      /* completion channel */
    void *cq;           /* the one CQ of every QP of the device */
    int32_t fd;         /* the completion channel's descriptor, non-blocking */
    uint32_t unacked;   /* CQ events taken and not yet acknowledged */
    uint32_t more;      /* out of hv_serve: it stopped at its budget, the CQ not seen empty */
    uint32_t armed;     /* the CQ was armed and the channel's event for it not taken yet */
    uint32_t pad;
};
struct hv_wc {          /* a work completion, as the driver reads it (24 bytes) */
    uint64_t wr_id;
    uint32_t status;
    uint32_t byte_len;
    uint32_t opcode;
    uint32_t pad;
};
struct hv_wr {          /* a send-queue work request with one scatter entry (48 bytes) */
    uint64_t wr_id;
    uint64_t addr;
    uint64_t remote_addr;
    uint32_t length;
    uint32_t lkey;
    uint32_t rkey;
    uint32_t op;        /* HV_SEND, HV_RDMA_WRITE, HV_RDMA_READ */
    uint32_t signaled;
    uint32_t pad;
};
enum { HV_SEND = 0, HV_RDMA_WRITE = 1, HV_RDMA_READ = 2 };
enum { HV_RECV = 1, HV_LANE_SEND = 6, HV_LANE_WRITE = 7, HV_LANE_READ = 8 }; /* wr_id kinds (bits 28-31) */
enum { HV_LOST_MAX = 64 }; /* as many as one lane batch re-posts (verbs.c LANE_BATCH) */
enum { HV_ORPHAN_MAX = 16 }; /* RDMA Reads of lane WRITEs given up on, per connection (verbs.c lane_fetch) */
struct hv_lane {        /* one iSER connection's fast lane (hv_serve) */
    void *qp;
    uint64_t id;        /* the connection's id: bits 32 and up of its wr_ids */
    uint32_t on;        /* 1: the lane may take this connection's commands in this call */
    uint32_t stopped;   /* out: a RECV of this call went to the driver, and so did every later one */
    void *conn;         /* struct quick_conn (quick.h): CmdSN, StatSN, limits; sock -1 */
    void *lus;          /* struct quick_lu[] */
    uint32_t nlus;
    uint32_t *sq_room;  /* free send-queue entries (the driver's count) */
    uint64_t recv_base; /* receive buffers: base, size of each, lkey */
    uint32_t recv_size;
    uint32_t recv_lkey;
    uint64_t send_base; /* send buffers, the same */
    uint32_t send_size;
    uint32_t send_lkey;
    uint32_t *free_send; /* the stack of free send buffers, and its height (the driver's) */
    uint32_t *nfree;
    uint32_t ring_lkey;
    uint32_t *send_slot; /* per send buffer: the ring slot its lane answer holds; 0xFFFFFFFE: an answer
                            whose RDMA Write is of the zero buffer; 0xFFFFFFFF: none */
    uint32_t outstanding; /* the lane's SENDs not completed yet */
    uint32_t answered;  /* out: commands the lane answered (the driver counts and zeroes it) */
    int32_t error;      /* out: errno of a post that failed (the connection must close), or 0 */
    uint32_t nlost;     /* out: how many of lost[] hold a receive buffer whose RECV the lane failed to */
    uint32_t lost[HV_LOST_MAX]; /* post again: it never completes, and the driver stops waiting for it */
    uint32_t norphan;   /* how many of orphan[] hold the ring slot of a lane WRITE's RDMA Read whose wait gave */
    uint32_t orphan[HV_ORPHAN_MAX]; /* up: its completion frees it, or the driver once the QP is gone */
    void *batch;        /* work requests of this call not posted yet (hv_lane_init) */
};
struct hv_ring {        /* the buffer ring, and the fast lane's entry points in hpt.native._ringbuf */
    void *base;
    uint64_t data;      /* address of slot 0 */
    uint32_t slot_size;
    uint32_t pad;
    void *burst;        /* quick_burst */
    void *free;         /* ring_free */
    void *alloc;        /* ring_alloc */
    uint64_t zero;      /* a registered buffer of zeroes, as long as a slot: what READs of a null LU send */
    uint32_t zero_lkey;
    uint32_t pad2;
};
int hv_lane_init(struct hv_lane *l);
void hv_lane_fini(struct hv_lane *l);
enum { HV_WATCH_MAX = 4 }; /* the driver's descriptors one hv_serve call watches while it lingers */
int hv_serve(struct hv_device *d, struct hv_lane **lanes, uint32_t nlanes, const struct hv_ring *r,
             struct hv_wc *out, int n, int ready, const int32_t *watch, uint32_t nwatch, uint32_t linger_us);
int hv_device_open(struct hv_device *d, void *cm_id, int cqe);
void hv_device_close(struct hv_device *d);
void *hv_reg_mr(struct hv_device *d, void *addr, uint64_t length, uint32_t *lkey);
int hv_dereg_mr(void *mr);
void *hv_qp_create(struct hv_device *d, uint32_t max_send_wr, uint32_t max_recv_wr, uint32_t *qp_num);
int hv_qp_connect(void *cm_id, void *qp, int read_depth);
int hv_qp_error(void *qp);
int hv_qp_destroy(void *qp);
int hv_post_recv(void *qp, uint64_t base, uint32_t size, uint32_t lkey, uint64_t tag, const uint32_t *idx,
                 uint32_t n);
int hv_post_send(void *qp, const struct hv_wr *wrs, uint32_t n);
const char *hv_status_str(uint32_t status);
