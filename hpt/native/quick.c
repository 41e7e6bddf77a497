/*
 * The fast lane of hpt's iSCSI core, in C: a burst of SCSI Command PDUs (RFC 7143 11.3) taken from
 * the receive stage, each a SIMPLE READ(10)/READ(16) (SBC-4 5.16, 5.17) that needs no more than its
 * header, or a SIMPLE WRITE(10)/WRITE(16) without FUA (5.40, 5.42) whose data all came as immediate
 * data. A READ is read into a ring slot and answered by one SCSI Data-In carrying the status (11.7);
 * a WRITE is written from the stage and answered by a SCSI Response (11.4). The lane stops at the
 * first PDU it does not take (any other PDU or command, a check that fails, a PDU not wholly
 * received, no free slot, a store error); Python runs that one on the full path, which gives the
 * sense. Python decides beforehand, under each LU's lock, what each LU lets the lane do
 * (quick_lu.ok: no unit attention pending for the nexus, no reservations, no injected faults, a LU
 * ready and, for WRITEs, writable with its write cache on) and counts what the lane did. The GIL is
 * released for the call (cffi), so sessions on other threads run beside it.
 */
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/aio_abi.h>
#include "ringbuf.h"
#include "quick.h"

#define BHS 48
#define NO_SLOT 0xFFFFFFFFu
#define MAX_AIO 128

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static int read_all(const struct quick_lu *lu, uint8_t *dst, uint64_t off, uint32_t n)
{
    if (lu->zero) {
        memset(dst, 0, n);
        return 0;
    }
    if (lu->mem) {
        memcpy(dst, lu->mem + off, n);
        return 0;
    }
    while (n) {
        ssize_t got = pread((int)lu->fd, dst, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1; /* an error or end of file: the full path reports it */
        dst += got;
        off += (uint64_t)got;
        n -= (uint32_t)got;
    }
    return 0;
}

static int write_all(const struct quick_lu *lu, const uint8_t *src, uint64_t off, uint32_t n)
{
    if (lu->zero)
        return 0;
    if (lu->mem) {
        memcpy(lu->mem + off, src, n);
        if (lu->page_map)
            memset(lu->page_map + off / lu->page_size, 1,
                   (off + n + lu->page_size - 1) / lu->page_size - off / lu->page_size);
        return 0;
    }
    while (n) {
        ssize_t put = pwrite((int)lu->fd, src, n, (off_t)off);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        src += put;
        off += (uint64_t)put;
        n -= (uint32_t)put;
    }
    return 0;
}

/* Linux AIO (io_setup(2), io_submit(2), io_getevents(2)) through its system calls: no library. */
int quick_aio_open(struct quick_conn *c)
{
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, MAX_AIO, &ctx) != 0)
        return -errno;
    c->aio_ctx = ctx;
    return 0;
}

void quick_aio_close(struct quick_conn *c)
{
    if (c->aio_ctx)
        syscall(SYS_io_destroy, (aio_context_t)c->aio_ctx);
    c->aio_ctx = 0;
}

/* A READ or WRITE the store failed: its answer becomes a SCSI Response (11.4) with CHECK CONDITION,
 * MEDIUM ERROR, UNRECOVERED READ ERROR or WRITE ERROR (``asc``, SBC-4 4.18), the sense data in its
 * slot; returns what to send of the slot (the data segment and its padding). */
static uint32_t fail_answer(uint8_t *o, uint8_t *slot, int d_sense, uint8_t asc)
{
    uint8_t fixed[18] = {0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, 0, 0, 0, 0, 0};
    uint8_t descriptor[8] = {0x72, 0x03, asc, 0, 0, 0, 0, 0};
    const uint8_t *sense = d_sense ? descriptor : fixed;
    uint32_t n = d_sense ? sizeof(descriptor) : sizeof(fixed), dsl = 2 + n;
    o[0] = 0x21;
    o[1] = 0x80;
    o[2] = 0;
    o[3] = 0x02; /* CHECK CONDITION */
    put32(o + 4, dsl);
    memset(o + 8, 0, 8);
    put32(o + 20, 0);
    memset(o + 36, 0, 12); /* ExpDataSN, residuals */
    slot[0] = 0;
    slot[1] = (uint8_t)n;
    memcpy(slot + 2, sense, n);
    memset(slot + dsl, 0, (4 - (dsl & 3)) & 3);
    return (dsl + 3) & ~3u;
}

/* An AIO request the store failed (or cut short): answer it CHECK CONDITION and count it so. */
static void aio_failed(const struct iocb *cb, struct quick_lu *lu, uint8_t *hdrs, uint8_t *data,
                       uint32_t slot_size, const uint32_t *slots, uint32_t *lens)
{
    uint32_t k = (uint32_t)cb->aio_data;
    int writing = cb->aio_lio_opcode == IOCB_CMD_PWRITE;
    lens[k] = fail_answer(hdrs + (uint64_t)k * BHS, data + (uint64_t)slots[k] * slot_size, lu->d_sense,
                          writing ? 0x0C : 0x11);
    if (writing) {
        lu->writes--;
        lu->written -= cb->aio_nbytes;
        lu->write_errors++;
    } else {
        lu->reads--;
        lu->read_bytes -= cb->aio_nbytes;
        lu->errors++;
    }
}

/* One AIO request of the burst: answer ``n``'s READ or WRITE of ``len`` bytes at ``off`` through ``buf``. */
static void prep_aio(struct iocb *cb, uint16_t opcode, uint32_t n, const struct quick_lu *lu, uint8_t *buf,
                     uint32_t len, uint64_t off)
{
    memset(cb, 0, sizeof(*cb));
    cb->aio_data = n;
    cb->aio_lio_opcode = opcode;
    cb->aio_fildes = (uint32_t)lu->fd;
    cb->aio_buf = (uint64_t)(uintptr_t)buf;
    cb->aio_nbytes = len;
    cb->aio_offset = (int64_t)off;
}

/* The header every answer shares: opcode, flags, LUN, ITT, StatSN, ExpCmdSN, MaxCmdSN. */
static void answer(uint8_t *o, const uint8_t *h, uint8_t opcode, uint8_t flags, struct quick_conn *c)
{
    memset(o, 0, BHS);
    o[0] = opcode;
    o[1] = flags;
    memcpy(o + 8, h + 8, 8);   /* LUN (a SCSI Response leaves it reserved: zero it there) */
    memcpy(o + 16, h + 16, 4); /* ITT */
    put32(o + 24, c->statsn++);
    put32(o + 28, c->exp_cmdsn);
    put32(o + 32, c->exp_cmdsn + c->queue_depth - 1);
}

/* The burst's AIO READs and WRITEs, submitted together and waited for (the device works on all of them
 * at once); one the store fails, or that cannot be submitted and fails when done at once, is answered
 * CHECK CONDITION instead of the answer prepared for it. */
static void finish_aio(struct quick_conn *c, struct iocb *cbs, struct quick_lu **aio_lu, uint32_t naio,
                       uint8_t *hdrs, uint8_t *data, uint32_t slot_size, uint32_t *slots, uint32_t *lens)
{
    struct iocb *ptrs[MAX_AIO];
    struct io_event events[MAX_AIO];
    uint32_t submitted = 0, done = 0;
    for (uint32_t i = 0; i < naio; i++)
        ptrs[i] = &cbs[i];
    while (submitted < naio) {
        long got = syscall(SYS_io_submit, (aio_context_t)c->aio_ctx, (long)(naio - submitted), ptrs + submitted);
        if (got <= 0)
            break;
        submitted += (uint32_t)got;
    }
    for (uint32_t i = submitted; i < naio; i++) { /* not submitted: done at once */
        struct iocb *cb = &cbs[i];
        void *buf = (void *)(uintptr_t)cb->aio_buf;
        long res = cb->aio_lio_opcode == IOCB_CMD_PWRITE
                       ? pwrite((int)cb->aio_fildes, buf, cb->aio_nbytes, cb->aio_offset)
                       : pread((int)cb->aio_fildes, buf, cb->aio_nbytes, cb->aio_offset);
        if (res != (long)cb->aio_nbytes)
            aio_failed(cb, aio_lu[i], hdrs, data, slot_size, slots, lens);
    }
    while (done < submitted) {
        long got = syscall(SYS_io_getevents, (aio_context_t)c->aio_ctx, (long)(submitted - done),
                           (long)(submitted - done), events, NULL);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break; /* only EINTR happens with a valid context and these events */
        }
        for (long e = 0; e < got; e++) {
            struct iocb *cb = (struct iocb *)(uintptr_t)events[e].obj;
            if (events[e].res != (int64_t)cb->aio_nbytes)
                aio_failed(cb, aio_lu[cb - cbs], hdrs, data, slot_size, slots, lens);
        }
        done += (uint32_t)got;
    }
}

/* The answers leave in this call when the driver lends its socket: one sendmsg for the burst (resumed
 * after a partial send), then the READs' slots go back to the ring (the kernel has copied them). With
 * c->nowait (the driver's event loop, which must not wait for a peer) a socket that takes no more ends
 * the call: c->sent says how many bytes went, and the slots stay held for the driver to send the rest. */
static void send_answers(struct quick_conn *c, void *ring, uint8_t *hdrs, uint8_t *data, uint32_t slot_size,
                         const uint32_t *slots, const uint32_t *lens, uint32_t n)
{
    struct iovec iov[2 * MAX_AIO];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        iov[k].iov_base = hdrs + (uint64_t)i * BHS;
        iov[k++].iov_len = BHS;
        if (lens[i]) {
            iov[k].iov_base = data + (uint64_t)slots[i] * slot_size;
            iov[k++].iov_len = lens[i];
        }
    }
    struct iovec *v = iov;
    int flags = MSG_NOSIGNAL | (c->nowait ? MSG_DONTWAIT : 0);
    c->sent = 0;
    while (k) {
        struct msghdr msg = {.msg_iov = v, .msg_iovlen = k};
        ssize_t sent = sendmsg(c->sock, &msg, flags);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (c->nowait && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->partial = 1;
                return;
            }
            c->send_error = errno;
            break;
        }
        c->sent += (uint64_t)sent;
        while (k && (size_t)sent >= v->iov_len) {
            sent -= (ssize_t)v->iov_len;
            v++;
            k--;
        }
        if (k) {
            v->iov_base = (uint8_t *)v->iov_base + sent;
            v->iov_len -= (size_t)sent;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (slots[i] != NO_SLOT)
            ring_free(ring, slots[i]);
}

int64_t quick_burst(void *ring, const uint8_t *in, uint64_t len, struct quick_conn *c,
                    struct quick_lu *lus, uint32_t nlus, uint8_t *hdrs, uint32_t *slots, uint32_t *lens,
                    uint32_t max_n)
{
    uint8_t *data = (uint8_t *)ring + ring_data_offset(ring);
    uint32_t slot_size = ring_slot_size(ring);
    uint64_t pos = 0;
    uint32_t n = 0, naio = 0;
    struct iocb cbs[MAX_AIO];
    if (max_n > MAX_AIO)
        max_n = MAX_AIO;
    struct quick_lu *aio_lu[MAX_AIO];
    c->more = 0;
    while (n < max_n) {
        if (pos + BHS > len) {
            c->more = pos < len; /* a header cut short: the driver receives the rest and calls again */
            break;
        }
        const uint8_t *h = in + pos;
        /* SCSI Command, not immediate; F set, SIMPLE; no AHS; a peripheral-addressed LUN < 256 */
        if (h[0] != 0x01 || (h[1] & 0x87) != 0x81 || h[4] != 0 || h[8] != 0 || be32(h + 10) != 0
            || h[14] != 0 || h[15] != 0)
            break;
        int reading = (h[1] & 0x60) == 0x40, writing = (h[1] & 0x60) == 0x20;
        uint32_t dsl = be32(h + 4) & 0xFFFFFF;
        struct quick_lu *lu = NULL;
        for (uint32_t i = 0; i < nlus; i++)
            if (lus[i].lun == h[9])
                lu = &lus[i];
        if (!lu || !(lu->ok & (writing ? 2 : 1)) || be32(h + 24) != c->exp_cmdsn)
            break;
        uint32_t edtl = be32(h + 20);
        const uint8_t *cdb = h + 32;
        uint64_t lba;
        uint32_t blocks;
        if (reading && dsl == 0 && cdb[0] == 0x28) { /* READ(10) */
            lba = be32(cdb + 2);
            blocks = (uint32_t)cdb[7] << 8 | cdb[8];
        } else if (reading && dsl == 0 && cdb[0] == 0x88) { /* READ(16) */
            lba = be64(cdb + 2);
            blocks = be32(cdb + 10);
        } else if (writing && cdb[0] == 0x2A) { /* WRITE(10) */
            lba = be32(cdb + 2);
            blocks = (uint32_t)cdb[7] << 8 | cdb[8];
        } else if (writing && cdb[0] == 0x8A) { /* WRITE(16) */
            lba = be64(cdb + 2);
            blocks = be32(cdb + 10);
        } else {
            break;
        }
        int ctrl = cdb[0] & 0x80 ? 15 : 9;
        /* RD/WRPROTECT, FUA, NACA; the range, MAXIMUM TRANSFER LENGTH, a transfer exactly as expected */
        if ((cdb[1] & (writing ? 0xE8 : 0xE0)) || (cdb[ctrl] & 0x04) || !blocks || lba >= lu->nblocks
            || blocks > lu->nblocks - lba || (lu->max_blocks && blocks > lu->max_blocks)
            || (uint64_t)blocks * lu->block_size != edtl)
            break;
        uint64_t off = lba * lu->block_size;
        uint8_t *o = hdrs + (uint64_t)n * BHS;
        if (reading) {
            if (edtl > c->max_len || edtl > slot_size)
                break;
            uint8_t *dst;
            int64_t slot = NO_SLOT;
            if (lu->zero && c->zero_reads)
                goto answer_read;
            if (lu->aio && (naio == MAX_AIO || !c->aio_ctx || (lu->align && (off | edtl) % lu->align)))
                break;
            slot = ring_alloc(ring);
            if (slot < 0)
                break;
            dst = data + (uint64_t)slot * slot_size;
            if (lu->aio) {
                if (lu->align && (uintptr_t)dst % lu->align) {
                    ring_free(ring, (uint32_t)slot);
                    break;
                }
                prep_aio(&cbs[naio], IOCB_CMD_PREAD, n, lu, dst, edtl, off);
                aio_lu[naio++] = lu;
            } else if (read_all(lu, dst, off, edtl) != 0) {
                ring_free(ring, (uint32_t)slot);
                break;
            }
        answer_read:
            c->exp_cmdsn++;
            answer(o, h, 0x25, 0x81, c); /* SCSI Data-In: F, S; status GOOD */
            put32(o + 4, edtl);          /* DataSegmentLength */
            put32(o + 20, 0xFFFFFFFFu);  /* Target Transfer Tag; DataSN, offset, residual 0 */
            slots[n] = (uint32_t)slot;
            lens[n] = edtl;
            lu->reads++;
            lu->read_bytes += edtl;
            pos += BHS;
        } else {
            uint64_t end = pos + BHS + dsl + ((4 - (dsl & 3)) & 3); /* the data segment and its padding */
            if (dsl != edtl || dsl > c->max_data)
                break;
            if (end > len) {
                c->more = 1; /* its data is still coming (max_data keeps it within the stage) */
                break;
            }
            if (lu->aio) { /* O_DIRECT: written with the burst from an aligned buffer, its slot held for
                              * the sense of a failure; data already aligned (the iSER lane's, which an
                              * RDMA Read put page-aligned in a slot) is written from where it is */
                if (naio == MAX_AIO || !c->aio_ctx || edtl > slot_size || (lu->align && (off | edtl) % lu->align))
                    break;
                int64_t slot = ring_alloc(ring);
                if (slot < 0)
                    break;
                uint8_t *dst = data + (uint64_t)slot * slot_size, *src = (uint8_t *)(uintptr_t)(h + BHS);
                if (lu->align && (uintptr_t)src % lu->align) {
                    if ((uintptr_t)dst % lu->align) {
                        ring_free(ring, (uint32_t)slot);
                        break;
                    }
                    memcpy(dst, src, edtl);
                    src = dst;
                }
                prep_aio(&cbs[naio], IOCB_CMD_PWRITE, n, lu, src, edtl, off);
                aio_lu[naio++] = lu;
                slots[n] = (uint32_t)slot;
            } else {
                if (write_all(lu, h + BHS, off, edtl) != 0)
                    break;
                slots[n] = NO_SLOT;
            }
            c->exp_cmdsn++;
            answer(o, h, 0x21, 0x80, c); /* SCSI Response: F; response and status 0 */
            memset(o + 8, 0, 8);
            lens[n] = 0;
            lu->writes++;
            lu->written += edtl;
            pos = end;
        }
        n++;
    }
    c->taken = pos;
    if (naio)
        finish_aio(c, cbs, aio_lu, naio, hdrs, data, slot_size, slots, lens);
    c->send_error = 0;
    c->partial = 0;
    if (c->sock >= 0 && n)
        send_answers(c, ring, hdrs, data, slot_size, slots, lens, n);
    return n;
}

void ring_free_many(void *ring, const uint32_t *slots, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        ring_free(ring, slots[i]);
}
