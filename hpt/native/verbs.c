/*
 * The verbs objects and the data path of hpt's iSER driver, in C over libibverbs (and librdmacm for the
 * QP attributes the CM computed): one PD, completion channel and CQ per device, RC QPs, memory
 * regions; work requests posted in chains from flat arrays and completions polled into one, so the
 * driver makes no Python object per work request or completion. The connection manager stays in
 * Python (pyverbs); a QP here is "external" to it (rdma_accept names its number).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include "verbs.h"

#define CHUNK 64
#define ACK_EVERY 64

int hv_device_open(struct hv_device *d, void *cm_id, int cqe)
{
    struct rdma_cm_id *id = cm_id;
    memset(d, 0, sizeof *d);
    d->fd = -1;
    if (!id || !id->verbs)
        return -ENODEV; /* the address is not on an RDMA device */
    struct ibv_context *ctx = id->verbs;
    struct ibv_pd *pd = ibv_alloc_pd(ctx);
    if (!pd)
        return -(errno ? errno : ENOMEM);
    struct ibv_comp_channel *ch = ibv_create_comp_channel(ctx);
    if (!ch) {
        int err = errno ? errno : ENOMEM;
        ibv_dealloc_pd(pd);
        return -err;
    }
    int flags = fcntl(ch->fd, F_GETFL);
    struct ibv_cq *cq = NULL;
    if (flags < 0 || fcntl(ch->fd, F_SETFL, flags | O_NONBLOCK) < 0
        || !(cq = ibv_create_cq(ctx, cqe, NULL, ch, 0)) || ibv_req_notify_cq(cq, 0)) {
        int err = errno ? errno : ENOMEM;
        if (cq)
            ibv_destroy_cq(cq);
        ibv_destroy_comp_channel(ch);
        ibv_dealloc_pd(pd);
        return -err;
    }
    d->ctx = ctx;
    d->pd = pd;
    d->channel = ch;
    d->cq = cq;
    d->fd = ch->fd;
    return 0;
}

void hv_device_close(struct hv_device *d)
{
    if (d->cq) {
        if (d->unacked)
            ibv_ack_cq_events(d->cq, d->unacked);
        ibv_destroy_cq(d->cq);
    }
    if (d->channel)
        ibv_destroy_comp_channel(d->channel);
    if (d->pd)
        ibv_dealloc_pd(d->pd);
    memset(d, 0, sizeof *d);
    d->fd = -1;
}

void *hv_reg_mr(struct hv_device *d, void *addr, uint64_t length, uint32_t *lkey)
{
    /* local write only: the target starts every RDMA transfer; the initiator never reaches in */
    struct ibv_mr *mr = ibv_reg_mr(d->pd, addr, length, IBV_ACCESS_LOCAL_WRITE);
    if (mr)
        *lkey = mr->lkey;
    return mr;
}

int hv_dereg_mr(void *mr)
{
    return -ibv_dereg_mr(mr);
}

void *hv_qp_create(struct hv_device *d, uint32_t max_send_wr, uint32_t max_recv_wr, uint32_t *qp_num)
{
    struct ibv_qp_init_attr a;
    memset(&a, 0, sizeof a);
    a.send_cq = a.recv_cq = d->cq;
    a.qp_type = IBV_QPT_RC;
    a.cap.max_send_wr = max_send_wr;
    a.cap.max_recv_wr = max_recv_wr;
    a.cap.max_send_sge = a.cap.max_recv_sge = 1;
    struct ibv_qp *qp = ibv_create_qp(d->pd, &a);
    if (qp)
        *qp_num = qp->qp_num;
    return qp;
}

int hv_qp_connect(void *cm_id, void *qp, int read_depth)
{
    /* INIT, RTR, RTS with the attributes the CM computed for this connection (rdma_init_qp_attr) */
    static const enum ibv_qp_state states[] = {IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS};
    if (!cm_id || !qp)
        return -EINVAL;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        struct ibv_qp_attr attr;
        int mask = 0;
        memset(&attr, 0, sizeof attr);
        attr.qp_state = states[i];
        if (rdma_init_qp_attr(cm_id, &attr, &mask))
            return -(errno ? errno : EINVAL);
        if (states[i] == IBV_QPS_RTS && (mask & IBV_QP_MAX_QP_RD_ATOMIC))
            attr.max_rd_atomic = (uint8_t)read_depth;
        int err = ibv_modify_qp(qp, &attr, mask);
        if (err)
            return -err;
    }
    return 0;
}

int hv_qp_error(void *qp)
{
    struct ibv_qp_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_ERR;
    return -ibv_modify_qp(qp, &attr, IBV_QP_STATE);
}

int hv_qp_destroy(void *qp)
{
    return -ibv_destroy_qp(qp);
}

int hv_events(struct hv_device *d)
{
    /* take the channel's pending events (it is non-blocking) and acknowledge them in batches */
    int n = 0;
    struct ibv_cq *cq;
    void *ctx;
    while (ibv_get_cq_event(d->channel, &cq, &ctx) == 0) {
        n++;
        if (++d->unacked >= ACK_EVERY) {
            ibv_ack_cq_events(d->cq, d->unacked);
            d->unacked = 0;
        }
    }
    return n;
}

int hv_arm(struct hv_device *d)
{
    return -ibv_req_notify_cq(d->cq, 0);
}

int hv_poll(struct hv_device *d, struct hv_wc *out, int n)
{
    struct ibv_wc wc[CHUNK];
    int got = 0;
    while (got < n) {
        int want = n - got < CHUNK ? n - got : CHUNK;
        int k = ibv_poll_cq(d->cq, want, wc);
        if (k < 0)
            return got ? got : -EIO;
        for (int i = 0; i < k; i++) {
            out[got + i].wr_id = wc[i].wr_id;
            out[got + i].status = wc[i].status;
            out[got + i].byte_len = wc[i].byte_len;
            out[got + i].opcode = wc[i].opcode;
            out[got + i].pad = 0;
        }
        got += k;
        if (k < want)
            break;
    }
    return got;
}

int hv_post_recv(void *qp, uint64_t base, uint32_t size, uint32_t lkey, uint64_t tag, const uint32_t *idx,
                 uint32_t n)
{
    /* RECVs of message buffers base + idx[i] * size, wr_id tag | idx[i]; returns how many were posted */
    struct ibv_recv_wr wr[CHUNK], *bad;
    struct ibv_sge sge[CHUNK];
    uint32_t done = 0;
    while (done < n) {
        uint32_t k = n - done < CHUNK ? n - done : CHUNK;
        for (uint32_t i = 0; i < k; i++) {
            sge[i].addr = base + (uint64_t)idx[done + i] * size;
            sge[i].length = size;
            sge[i].lkey = lkey;
            wr[i].wr_id = tag | idx[done + i];
            wr[i].sg_list = &sge[i];
            wr[i].num_sge = 1;
            wr[i].next = i + 1 < k ? &wr[i + 1] : NULL;
        }
        if (ibv_post_recv(qp, wr, &bad))
            return (int)(done + (uint32_t)(bad - wr));
        done += k;
    }
    return (int)done;
}

int hv_post_send(void *qp, const struct hv_wr *wrs, uint32_t n)
{
    /* one chain per CHUNK work requests; returns how many were posted (fewer: the QP refused the rest) */
    static const enum ibv_wr_opcode ops[] = {IBV_WR_SEND, IBV_WR_RDMA_WRITE, IBV_WR_RDMA_READ};
    struct ibv_send_wr wr[CHUNK], *bad;
    struct ibv_sge sge[CHUNK];
    uint32_t done = 0;
    while (done < n) {
        uint32_t k = n - done < CHUNK ? n - done : CHUNK;
        memset(wr, 0, k * sizeof wr[0]);
        for (uint32_t i = 0; i < k; i++) {
            const struct hv_wr *w = &wrs[done + i];
            if (w->op > HV_RDMA_READ)
                return (int)done;
            sge[i].addr = w->addr;
            sge[i].length = w->length;
            sge[i].lkey = w->lkey;
            wr[i].wr_id = w->wr_id;
            wr[i].sg_list = &sge[i];
            wr[i].num_sge = 1;
            wr[i].opcode = ops[w->op];
            wr[i].send_flags = w->signaled ? IBV_SEND_SIGNALED : 0;
            wr[i].wr.rdma.remote_addr = w->remote_addr;
            wr[i].wr.rdma.rkey = w->rkey;
            wr[i].next = i + 1 < k ? &wr[i + 1] : NULL;
        }
        if (ibv_post_send(qp, wr, &bad))
            return (int)(done + (uint32_t)(bad - wr));
        done += k;
    }
    return (int)done;
}

const char *hv_status_str(uint32_t status)
{
    return ibv_wc_status_str((enum ibv_wc_status)status);
}
