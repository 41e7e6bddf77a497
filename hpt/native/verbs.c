/*
 * The verbs objects and the data path of hpt's iSER driver, in C over libibverbs (and librdmacm for the
 * QP attributes the CM computed): one PD, completion channel and CQ per device, RC QPs, memory
 * regions; work requests posted in chains from flat arrays and completions polled into one, so the
 * driver makes no Python object per work request or completion. The connection manager stays in
 * Python (pyverbs); a QP here is "external" to it (rdma_accept names its number).
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include "quick.h"
#include "verbs.h"

#define CHUNK 64
#define ACK_EVERY 64

/* One send-queue work request with one scatter entry (s), the last of its chain so far. */
static void fill_send(struct ibv_send_wr *w, struct ibv_sge *s, uint64_t wr_id, enum ibv_wr_opcode op,
                      uint64_t addr, uint32_t len, uint32_t lkey, int signaled, uint32_t rkey, uint64_t raddr)
{
    *s = (struct ibv_sge){.addr = addr, .length = len, .lkey = lkey};
    *w = (struct ibv_send_wr){.wr_id = wr_id, .sg_list = s, .num_sge = 1, .opcode = op,
                              .send_flags = signaled ? IBV_SEND_SIGNALED : 0,
                              .wr.rdma = {.remote_addr = raddr, .rkey = rkey}};
}

/* One RECV into the buffer of len bytes at addr, the last of its chain so far. */
static void fill_recv(struct ibv_recv_wr *w, struct ibv_sge *g, uint64_t wr_id, uint64_t addr, uint32_t len,
                      uint32_t lkey)
{
    *g = (struct ibv_sge){.addr = addr, .length = len, .lkey = lkey};
    *w = (struct ibv_recv_wr){.wr_id = wr_id, .sg_list = g, .num_sge = 1};
}

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
    d->armed = 1;
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

/* Take the channel's event: one at most is pending, as the CQ is armed again only once its event is
 * taken (poll_armed). The channel is non-blocking; the events are acknowledged in batches. */
static void take_event(struct hv_device *d)
{
    struct ibv_cq *cq;
    void *ctx;
    if (ibv_get_cq_event(d->channel, &cq, &ctx))
        return;
    d->armed = 0;
    if (++d->unacked >= ACK_EVERY) {
        ibv_ack_cq_events(d->cq, d->unacked);
        d->unacked = 0;
    }
}

/* Poll up to max completions into wc. When the CQ is empty, arm it (unless it is armed already) and
 * poll once more for what came before the arming: 0 then means the channel announces the next one.
 * A CQ armed while its earlier event waits untaken is not armed again: that event wakes the driver. */
static int poll_armed(struct hv_device *d, struct ibv_wc *wc, int max)
{
    int k = ibv_poll_cq(d->cq, max, wc);
    if (k || d->armed)
        return k;
    if (ibv_req_notify_cq(d->cq, 0))
        return -1;
    d->armed = 1;
    k = ibv_poll_cq(d->cq, max, wc);
    if (k > 0)
        take_event(d); /* what came may have fired the event already: not a wake-up for later */
    return k;
}

int hv_post_recv(void *qp, uint64_t base, uint32_t size, uint32_t lkey, uint64_t tag, const uint32_t *idx,
                 uint32_t n)
{
    /* RECVs of message buffers base + idx[i] * size, wr_id tag | idx[i], at most CHUNK (a connection
     * has no more receive buffers); returns how many were posted */
    struct ibv_recv_wr wr[CHUNK], *bad = NULL;
    struct ibv_sge sge[CHUNK];
    uint32_t k = n < CHUNK ? n : CHUNK;
    for (uint32_t i = 0; i < k; i++) {
        fill_recv(&wr[i], &sge[i], tag | idx[i], base + (uint64_t)idx[i] * size, size, lkey);
        if (i)
            wr[i - 1].next = &wr[i];
    }
    if (k && ibv_post_recv(qp, wr, &bad))
        return (int)(bad - wr);
    return (int)k;
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
        for (uint32_t i = 0; i < k; i++) {
            const struct hv_wr *w = &wrs[done + i];
            if (w->op > HV_RDMA_READ)
                return (int)done;
            fill_send(&wr[i], &sge[i], w->wr_id, ops[w->op], w->addr, w->length, w->lkey, w->signaled,
                      w->rkey, w->remote_addr);
            if (i)
                wr[i - 1].next = &wr[i];
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

/*
 * The fast lane over iSER (RFC 7145 7.3): hv_serve polls the CQ and answers, on each connection whose
 * lane is on, the SCSI Commands its RECVs carry that hpt's fast lane takes (quick_burst in quick.c,
 * one PDU per message): a READ is read into a ring slot and answered by an RDMA Write to the Read STag
 * chained with the SCSI Response (7.3.5), a WRITE whose data all came as immediate data by the SCSI
 * Response; the RECV is posted again. The SEND completions of those answers free their slot and send
 * buffer here. Every other completion goes to the driver in order, and once one RECV of a connection
 * has gone there, so does every later one of the call (CmdSN order). The work requests of a batch are
 * posted per connection at its end, so the driver's own posts come after them. While only the lanes
 * take what completes, the call polls on; when the CQ is empty it arms it and polls once more, and
 * returns when that is empty too: one call, and one entering of the lanes, per wake-up. After
 * SERVE_BATCHES batches it returns anyway (d->more: not armed), so that new connections and the other
 * threads' completions are not held back by a stream the lanes keep taking.
 */
#define ISER_HDR 28
#define BHS_LEN 48
#define NO_SLOT 0xFFFFFFFFu
#define ZERO_WRITE 0xFFFFFFFEu /* send_slot: the answer's RDMA Write is of the zero buffer */
#define LANE_BATCH 64
#define KIND_SHIFT 28

typedef int64_t (*burst_fn)(void *ring, const uint8_t *in, uint64_t len, void *c, void *lus, uint32_t nlus,
                            uint8_t *hdrs, uint32_t *slots, uint32_t *lens, uint32_t max_n);
typedef int (*free_fn)(void *ring, uint32_t idx);
typedef int64_t (*alloc_fn)(void *ring);
#define WAIT_ROUNDS 100 /* 10 ms each: how long lane WRITEs wait for their RDMA Reads */
#define FETCH_MAX 4     /* lane WRITEs of a connection whose RDMA Reads are in flight together */
#define FETCH_AT 4096   /* where a lane WRITE's data lands in its slot, its header copied just before it:
                           page-aligned, so a software RDMA device's copy of each packet spans no more
                           pages than it must */

struct lane_batch {
    uint32_t nsend, nrecv;
    struct ibv_send_wr send[2 * LANE_BATCH];
    struct ibv_sge send_sge[2 * LANE_BATCH];
    struct ibv_recv_wr recv[LANE_BATCH];
    struct ibv_sge recv_sge[LANE_BATCH];
};

int hv_lane_init(struct hv_lane *l)
{
    l->batch = calloc(1, sizeof(struct lane_batch));
    return l->batch ? 0 : -ENOMEM;
}

void hv_lane_fini(struct hv_lane *l)
{
    free(l->batch);
    l->batch = NULL;
}

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* A lane answer's SEND is done (or flushed, or never posted): its slot and send buffer are free. */
static void lane_sent(struct hv_lane *l, const struct hv_ring *r, uint32_t sidx)
{
    uint32_t slot = l->send_slot[sidx];
    *l->sq_room += 1;
    if (slot != NO_SLOT) {
        if (slot != ZERO_WRITE)
            ((free_fn)r->free)(r->base, slot);
        l->send_slot[sidx] = NO_SLOT;
        *l->sq_room += 1; /* its RDMA Write */
    }
    l->free_send[(*l->nfree)++] = sidx;
    l->outstanding--;
}

static void lane_flush(struct hv_lane *l, const struct hv_ring *r)
{
    struct lane_batch *b = l->batch;
    if (b->nsend) {
        struct ibv_send_wr *bad = NULL;
        int err = ibv_post_send(l->qp, b->send, &bad);
        if (err) {
            l->error = err;
            for (struct ibv_send_wr *w = bad; w; w = w->next) { /* not posted: never completes */
                if (w->opcode == IBV_WR_SEND) {
                    lane_sent(l, r, (uint32_t)(w->wr_id & 0xFFFFFFF)); /* (and its Write's entry) */
                } else if (w->opcode == IBV_WR_RDMA_READ) { /* a lane WRITE's: its slot, its entry */
                    ((free_fn)r->free)(r->base, (uint32_t)(w->wr_id & 0xFFFFFFF));
                    *l->sq_room += 1;
                    l->outstanding--;
                }
            }
        }
        b->nsend = 0;
    }
    if (b->nrecv) {
        struct ibv_recv_wr *bad = NULL;
        int err = ibv_post_recv(l->qp, b->recv, &bad);
        if (err) {
            l->error = err;
            for (struct ibv_recv_wr *w = bad; w && l->nlost < HV_LOST_MAX; w = w->next) /* never complete */
                l->lost[l->nlost++] = (uint32_t)(w->wr_id & 0xFFFFFFF);
        }
        b->nrecv = 0;
    }
}

static void add_send(struct lane_batch *b, uint64_t wr_id, enum ibv_wr_opcode op, uint64_t addr, uint32_t len,
                     uint32_t lkey, int signaled, uint32_t rkey, uint64_t raddr)
{
    fill_send(&b->send[b->nsend], &b->send_sge[b->nsend], wr_id, op, addr, len, lkey, signaled, rkey, raddr);
    if (b->nsend)
        b->send[b->nsend - 1].next = &b->send[b->nsend];
    b->nsend++;
}

static void repost(struct hv_lane *l, uint32_t idx)
{
    struct lane_batch *b = l->batch;
    fill_recv(&b->recv[b->nrecv], &b->recv_sge[b->nrecv], l->id << 32 | (uint64_t)HV_RECV << KIND_SHIFT | idx,
              l->recv_base + (uint64_t)idx * l->recv_size, l->recv_size, l->recv_lkey);
    if (b->nrecv)
        b->recv[b->nrecv - 1].next = &b->recv[b->nrecv];
    b->nrecv++;
}

/* Send quick_burst's answer hdr (slot and dlen as it gave them) of the command whose message is msg: a
 * READ's Data-In becomes an RDMA Write of its data chained with a SCSI Response (RFC 7145 7.3.5). */
static void lane_answer(struct hv_lane *l, const struct hv_ring *r, const uint8_t *msg, const uint8_t *hdr,
                        uint32_t slot, uint32_t dlen)
{
    struct lane_batch *b = l->batch;
    uint32_t sidx = l->free_send[--*l->nfree];
    uint8_t *s = (uint8_t *)(uintptr_t)(l->send_base + (uint64_t)sidx * l->send_size);
    uint32_t send_len = ISER_HDR + BHS_LEN;
    memset(s, 0, ISER_HDR);
    s[0] = 0x10;
    memcpy(s + ISER_HDR, hdr, BHS_LEN);
    uint8_t *o = s + ISER_HDR;
    uint64_t wid = l->id << 32 | (uint64_t)HV_LANE_SEND << KIND_SHIFT | sidx;
    l->send_slot[sidx] = NO_SLOT;
    if (hdr[0] == 0x25) { /* a READ's Data-In with status: its data by RDMA Write, then a SCSI Response */
        uint64_t write_id = l->id << 32 | (uint64_t)HV_LANE_WRITE << KIND_SHIFT | sidx; /* fails alone */
        if (slot == NO_SLOT) /* a null LU's READ (quick_conn.zero_reads) */
            add_send(b, write_id, IBV_WR_RDMA_WRITE, r->zero, dlen, r->zero_lkey, 0, get32(msg + 16),
                     get64(msg + 20));
        else
            add_send(b, write_id, IBV_WR_RDMA_WRITE, r->data + (uint64_t)slot * r->slot_size, dlen,
                     l->ring_lkey, 0, get32(msg + 16), get64(msg + 20));
        o[0] = 0x21;
        o[1] = 0x80;
        o[2] = o[3] = 0;
        memset(o + 4, 0, 12);  /* DataSegmentLength; reserved where Data-In has its LUN */
        memset(o + 20, 0, 4);  /* SNACK Tag */
        memset(o + 36, 0, 12); /* ExpDataSN, residuals */
        l->send_slot[sidx] = slot == NO_SLOT ? ZERO_WRITE : slot;
        *l->sq_room -= 1;
    } else if (slot != NO_SLOT) { /* a SCSI Response with sense in the slot: it goes in the SEND */
        memcpy(s + send_len, (uint8_t *)(uintptr_t)(r->data + (uint64_t)slot * r->slot_size), dlen);
        send_len += dlen;
        ((free_fn)r->free)(r->base, slot);
    }
    add_send(b, wid, IBV_WR_SEND, (uint64_t)(uintptr_t)s, send_len, l->send_lkey, 1, 0, 0);
    *l->sq_room -= 1;
    l->outstanding++;
    l->answered++;
}

/* Wait for the completions of the n work requests ids (arming the CQ and sleeping on its channel when
 * it is empty), keeping the others polled meanwhile at wc[*k..room) for the caller to handle in order;
 * status[i] gets each one's status, or stays -1 if it did not come within WAIT_ROUNDS or the room. */
static void wait_for(struct hv_device *d, const uint64_t *ids, int *status, int n, struct ibv_wc *wc, int *k,
                     int room)
{
    int left = n;
    for (int round = 0; round < WAIT_ROUNDS && left; round++) {
        while (left) {
            if (*k >= room)
                return;
            int got = poll_armed(d, &wc[*k], 1);
            if (got < 0)
                return;
            if (!got)
                break; /* empty and armed */
            int mine = 0;
            for (int i = 0; i < n; i++)
                if (wc[*k].wr_id == ids[i]) {
                    status[i] = (int)wc[*k].status;
                    left--;
                    mine = 1;
                }
            if (!mine)
                (*k)++;
        }
        if (left) {
            struct pollfd p = {.fd = d->fd, .events = POLLIN};
            if (poll(&p, 1, 10) == 1)
                take_event(d);
        }
    }
}

/* A solicited WRITE (RFC 7145 7.3.6) the lane may take: one whole SCSI Command PDU, F and SIMPLE, no
 * immediate data, the Write STag, WRITE(10)/(16) without WRPROTECT or FUA, CmdSN cmdsn, a LU that takes
 * WRITEs now, data that fits its slot from FETCH_AT on (page-aligned there: an O_DIRECT file's AIO
 * writes it from where it landed); its LU entry, or NULL. */
static struct quick_lu *fetchable(const struct hv_lane *l, const struct hv_ring *r, const uint8_t *msg,
                                  uint32_t len, uint32_t cmdsn)
{
    const uint8_t *h = msg + ISER_HDR;
    struct quick_lu *lus = l->lus, *lu = NULL;
    if (len != ISER_HDR + BHS_LEN || (msg[0] & 0xF8) != 0x18 || h[0] != 0x01 || (h[1] & 0xE7) != 0xA1
        || (get32(h + 4) & 0xFFFFFF) || (h[32] != 0x2A && h[32] != 0x8A) || (h[33] & 0xE8)
        || get32(h + 24) != cmdsn || !get32(h + 20) || r->slot_size <= FETCH_AT
        || get32(h + 20) > r->slot_size - FETCH_AT)
        return NULL;
    for (uint32_t i = 0; i < l->nlus; i++)
        if (lus[i].lun == h[9])
            lu = &lus[i];
    return lu && (lu->ok & 2) ? lu : NULL;
}

/* Solicited WRITEs: the one in wc[at] and those of the same connection right behind it in this call's
 * completions (up to FETCH_MAX, in CmdSN order) have their data RDMA-Read together into ring slots, each
 * behind a copy of its header; once it is in, each is answered as quick_burst answers a WRITE with
 * immediate data, in order. The checks that decide run then; a WRITE that fails one goes to the driver
 * with those after it (it reads the data again: an RDMA Read leaves the initiator's buffer as it was).
 * The later RECVs it answers are marked done in wc (wr_id 0: no connection has id 0). 1 if it answered
 * the one at wc[at]. */
static int lane_fetch(struct hv_device *d, struct hv_lane *l, const struct hv_ring *r, struct ibv_wc *wc,
                      int at, int *k, int room)
{
    struct quick_conn *c = l->conn;
    int pos[FETCH_MAX], status[FETCH_MAX], n = 0;
    int64_t slot[FETCH_MAX];
    uint64_t ids[FETCH_MAX];
    const uint8_t *msg[FETCH_MAX];
    for (int j = at; j < *k && n < FETCH_MAX; j++) {
        uint64_t wid = wc[j].wr_id;
        if (wid >> 32 != l->id)
            continue;
        if (((wid >> KIND_SHIFT) & 0xF) != HV_RECV)
            continue; /* this connection's other completions keep their place */
        const uint8_t *m = (uint8_t *)(uintptr_t)(l->recv_base + (wid & 0xFFFFFFF) * (uint64_t)l->recv_size);
        if (wc[j].status != IBV_WC_SUCCESS || !fetchable(l, r, m, wc[j].byte_len, c->exp_cmdsn + n)
            || *l->sq_room < 2 * (uint32_t)(n + 1) || *l->nfree < (uint32_t)(n + 1))
            break;
        slot[n] = ((alloc_fn)r->alloc)(r->base);
        if (slot[n] < 0)
            break;
        pos[n] = j;
        msg[n] = m;
        status[n] = -1;
        n++;
    }
    if (!n)
        return 0;
    lane_flush(l, r); /* what the lane answered before goes first */
    struct lane_batch *b = l->batch;
    for (int i = 0; i < n; i++) {
        ids[i] = l->id << 32 | (uint64_t)HV_LANE_READ << KIND_SHIFT | (uint32_t)slot[i];
        const uint8_t *h = msg[i] + ISER_HDR;
        add_send(b, ids[i], IBV_WR_RDMA_READ, r->data + (uint64_t)slot[i] * r->slot_size + FETCH_AT,
                 get32(h + 20), l->ring_lkey, 1, get32(msg[i] + 4), get64(msg[i] + 8));
        *l->sq_room -= 1;
        l->outstanding++;
    }
    lane_flush(l, r);
    if (l->error)
        return 0; /* not posted: lane_flush gave their entries and slots back */
    wait_for(d, ids, status, n, wc, k, room);
    int answered = 0;
    for (int i = 0; i < n; i++) {
        if (status[i] < 0) { /* it completes later (HV_LANE_READ frees the slot), or never */
            l->stopped = 1;
            if (l->norphan < HV_ORPHAN_MAX)
                l->orphan[l->norphan++] = (uint32_t)slot[i];
            else
                l->error = ETIMEDOUT; /* so many Reads lost: the connection goes, its QP flushes them */
            continue;
        }
        *l->sq_room += 1;
        l->outstanding--;
        uint8_t *dst = (uint8_t *)(uintptr_t)(r->data + (uint64_t)slot[i] * r->slot_size);
        dst += FETCH_AT - BHS_LEN;
        const uint8_t *h = msg[i] + ISER_HDR;
        uint32_t edtl = get32(h + 20), out_slot = NO_SLOT, dlen = 0, max_data = c->max_data;
        uint8_t hdr[BHS_LEN];
        int64_t got = 0;
        if (status[i] != IBV_WC_SUCCESS) {
            l->error = EIO; /* the QP is in error: the connection goes */
        } else if (!l->stopped) {
            memcpy(dst, h, BHS_LEN);
            dst[5] = (uint8_t)(edtl >> 16); /* the data behind the header, as immediate data would be */
            dst[6] = (uint8_t)(edtl >> 8);
            dst[7] = (uint8_t)edtl;
            c->max_data = edtl;
            got = ((burst_fn)r->burst)(r->base, dst, BHS_LEN + edtl, c, l->lus, l->nlus, hdr, &out_slot,
                                       &dlen, 1);
            c->max_data = max_data;
        }
        ((free_fn)r->free)(r->base, (uint32_t)slot[i]);
        if (got != 1) {
            l->stopped = 1; /* this one and those after it: the driver's */
            continue;
        }
        lane_answer(l, r, msg[i], hdr, out_slot, dlen);
        if (i == 0) {
            answered = 1;
        } else {
            repost(l, (uint32_t)(wc[pos[i]].wr_id & 0xFFFFFFF));
            wc[pos[i]].wr_id = 0;
        }
    }
    return answered;
}

/* Answer the command in receive buffer idx (len bytes) if the fast lane takes it; 1 if it did. */
static int lane_take(struct hv_device *d, struct hv_lane *l, const struct hv_ring *r, uint32_t idx,
                     uint32_t len, struct ibv_wc *wc, int at, int *k, int room)
{
    struct lane_batch *b = l->batch;
    uint8_t *msg = (uint8_t *)(uintptr_t)(l->recv_base + (uint64_t)idx * l->recv_size);
    if (len < ISER_HDR + BHS_LEN || (msg[0] & 0xF0) != 0x10)
        return 0; /* not a control-type PDU (RFC 7145 9.2) */
    const uint8_t *h = msg + ISER_HDR;
    uint32_t dsl = get32(h + 4) & 0xFFFFFF;
    int reading = (h[1] & 0x60) == 0x40;
    /* one whole PDU, no padding on iSER; a READ needs the Read STag, data needs no padding in quick.c */
    if (len != ISER_HDR + BHS_LEN + dsl || (dsl & 3) || (reading && !(msg[0] & 0x04)))
        return 0;
    if (!*l->nfree || *l->sq_room < 2 || b->nsend + 2 > 2 * LANE_BATCH || b->nrecv == LANE_BATCH)
        return 0;
    int taken;
    if (h[0] == 0x01 && (h[1] & 0x60) == 0x20 && dsl == 0 && (h[32] == 0x2A || h[32] == 0x8A)) {
        taken = lane_fetch(d, l, r, wc, at, k, room);
    } else {
        uint8_t hdr[BHS_LEN];
        uint32_t slot = NO_SLOT, dlen = 0;
        taken = ((burst_fn)r->burst)(r->base, h, len - ISER_HDR, l->conn, l->lus, l->nlus, hdr, &slot, &dlen,
                                     1) == 1;
        if (taken)
            lane_answer(l, r, msg, hdr, slot, dlen);
    }
    if (taken)
        repost(l, idx);
    return taken;
}

#define WC_ROOM 512 /* completions one call holds: a batch, and what a lane WRITE's wait polls */
#define SERVE_BATCHES 16 /* batches one call serves before the driver's other work gets its turn */

/* Handle k polled completions wc[0..k) (a lane WRITE's wait may add to k, up to room): the lanes answer
 * what they take, and every other completion becomes a row of out, in order; returns the rows. */
static int serve_batch(struct hv_lane **lanes, uint32_t nlanes, struct hv_device *d, const struct hv_ring *r,
                       struct ibv_wc *wc, int k, int room, struct hv_wc *out)
{
    int rows = 0;
    for (int i = 0; i < k; i++) {
        uint64_t wid = wc[i].wr_id;
        if (!wid)
            continue; /* a RECV a lane WRITE before it answered with it (lane_fetch) */
        uint32_t kind = (uint32_t)(wid >> KIND_SHIFT) & 0xF, idx = (uint32_t)(wid & 0xFFFFFFF);
        struct hv_lane *l = NULL;
        for (uint32_t j = 0; j < nlanes; j++)
            if (lanes[j]->id == wid >> 32)
                l = lanes[j];
        if (l && kind == HV_LANE_WRITE) {
            ; /* only a failed Write completes (unsignaled): the driver closes the connection */
        } else if (l && kind == HV_LANE_READ) { /* a lane WRITE's RDMA Read whose wait gave up */
            for (uint32_t o = 0; o < l->norphan; o++)
                if (l->orphan[o] == idx) {
                    l->orphan[o] = l->orphan[--l->norphan];
                    break;
                }
            ((free_fn)r->free)(r->base, idx);
            *l->sq_room += 1;
            l->outstanding--;
            if (wc[i].status == IBV_WC_SUCCESS)
                continue;
        } else if (l && kind == HV_LANE_SEND) {
            lane_sent(l, r, idx);
            if (wc[i].status == IBV_WC_SUCCESS)
                continue; /* else the driver closes the connection too */
        } else if (l && kind == HV_RECV) {
            if (wc[i].status == IBV_WC_SUCCESS && l->on && !l->stopped && !l->error
                && lane_take(d, l, r, idx, wc[i].byte_len, wc, i, &k, room))
                continue;
            l->stopped = 1;
        }
        out[rows].wr_id = wid;
        out[rows].status = wc[i].status;
        out[rows].byte_len = wc[i].byte_len;
        out[rows].opcode = wc[i].opcode;
        out[rows++].pad = 0;
    }
    for (uint32_t j = 0; j < nlanes; j++)
        lane_flush(lanes[j], r);
    return rows;
}

static int64_t monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Sleep on the completion channel until it announces a completion (1), or one of the driver's
 * descriptors (watch) is readable, or the deadline (monotonic_ns) passes (0). */
static int linger(struct hv_device *d, const int32_t *watch, uint32_t nwatch, int64_t deadline)
{
    struct pollfd p[1 + HV_WATCH_MAX];
    int64_t left = deadline - monotonic_ns();
    if (left < 0)
        return 0;
    struct timespec wait = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
    p[0] = (struct pollfd){.fd = d->fd, .events = POLLIN};
    for (uint32_t i = 0; i < nwatch; i++)
        p[1 + i] = (struct pollfd){.fd = watch[i], .events = POLLIN};
    if (ppoll(p, 1 + nwatch, &wait, NULL) <= 0)
        return 0;
    for (uint32_t i = 0; i < nwatch; i++)
        if (p[1 + i].revents)
            return 0; /* the driver's turn (the channel's event, if any, stays for its loop) */
    if (!(p[0].revents & POLLIN))
        return 0;
    take_event(d);
    return 1;
}

/* One wake-up of the driver: take the channel's event if it saw one (ready), then poll and serve
 * batches until a completion needs the driver (its rows are returned), or SERVE_BATCHES batches were
 * served (d->more), or the CQ is empty and armed. While a lane is entered, an empty CQ is waited on for
 * up to linger_us, or until one of the driver's descriptors (watch) is readable: commands that come
 * meanwhile are served without a return to the driver, so a connection with one or two commands in
 * flight costs the driver nothing per command. The lanes stay entered (their LUs count them as one
 * inline task: an ORDERED command on another transport waits for them; a unit attention established
 * meanwhile is reported from the next call) for SERVE_BATCHES batches at most, and linger_us after
 * each. */
int hv_serve(struct hv_device *d, struct hv_lane **lanes, uint32_t nlanes, const struct hv_ring *r,
             struct hv_wc *out, int n, int ready, const int32_t *watch, uint32_t nwatch, uint32_t linger_us)
{
    /* out holds n rows: every completion polled may become one, those a lane WRITE's wait polls too */
    struct ibv_wc wc[WC_ROOM];
    int rows = 0, room = n < WC_ROOM ? n : WC_ROOM, batches = 0, entered = 0;
    int64_t deadline = 0; /* of the linger under way (monotonic_ns), or 0 */
    d->more = 0;
    if (ready)
        take_event(d);
    for (uint32_t i = 0; i < nlanes; i++) {
        lanes[i]->stopped = 0;
        entered |= lanes[i]->on != 0;
    }
    if (nwatch > HV_WATCH_MAX)
        nwatch = HV_WATCH_MAX;
    for (;;) {
        int k = poll_armed(d, wc, room < CHUNK ? room : CHUNK);
        if (k < 0)
            return -EIO;
        if (!k) {
            if (!entered || !linger_us)
                break; /* empty and armed: the channel wakes the driver for the next one */
            if (!deadline) /* linger_us from now, not from each (perhaps spurious) event */
                deadline = monotonic_ns() + (int64_t)linger_us * 1000;
            if (linger(d, watch, nwatch, deadline))
                continue;
            break;
        }
        deadline = 0;
        rows = serve_batch(lanes, nlanes, d, r, wc, k, room, out);
        if (rows)
            break;
        if (++batches == SERVE_BATCHES) { /* only the lanes took them: the driver's other work's turn */
            d->more = 1;
            break;
        }
    }
    return rows;
}
