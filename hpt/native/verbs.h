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
int hv_device_open(struct hv_device *d, void *cm_id, int cqe);
void hv_device_close(struct hv_device *d);
void *hv_reg_mr(struct hv_device *d, void *addr, uint64_t length, uint32_t *lkey);
int hv_dereg_mr(void *mr);
void *hv_qp_create(struct hv_device *d, uint32_t max_send_wr, uint32_t max_recv_wr, uint32_t *qp_num);
int hv_qp_connect(void *cm_id, void *qp, int read_depth);
int hv_qp_error(void *qp);
int hv_qp_destroy(void *qp);
int hv_events(struct hv_device *d);
int hv_arm(struct hv_device *d);
int hv_poll(struct hv_device *d, struct hv_wc *out, int n);
int hv_post_recv(void *qp, uint64_t base, uint32_t size, uint32_t lkey, uint64_t tag, const uint32_t *idx,
                 uint32_t n);
int hv_post_send(void *qp, const struct hv_wr *wrs, uint32_t n);
const char *hv_status_str(uint32_t status);
