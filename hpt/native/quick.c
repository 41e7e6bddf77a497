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
#include "ringbuf.h"
#include "quick.h"

#define BHS 48
#define NO_SLOT 0xFFFFFFFFu

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static int read_all(const struct quick_lu *lu, uint8_t *dst, uint64_t off, uint32_t n)
{
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

int64_t quick_burst(void *ring, const uint8_t *in, uint64_t len, struct quick_conn *c,
                    struct quick_lu *lus, uint32_t nlus, uint8_t *hdrs, uint32_t *slots, uint32_t *lens,
                    uint32_t max_n)
{
    uint8_t *data = (uint8_t *)ring + ring_data_offset(ring);
    uint32_t slot_size = ring_slot_size(ring);
    uint64_t pos = 0;
    uint32_t n = 0;
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
            int64_t slot = ring_alloc(ring);
            if (slot < 0)
                break;
            if (read_all(lu, data + (uint64_t)slot * slot_size, off, edtl) != 0) {
                ring_free(ring, (uint32_t)slot);
                break;
            }
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
            if (write_all(lu, h + BHS, off, edtl) != 0)
                break;
            c->exp_cmdsn++;
            answer(o, h, 0x21, 0x80, c); /* SCSI Response: F; response and status 0 */
            memset(o + 8, 0, 8);
            slots[n] = NO_SLOT;
            lens[n] = 0;
            lu->writes++;
            lu->written += edtl;
            pos = end;
        }
        n++;
    }
    c->taken = pos;
    return n;
}

void ring_free_many(void *ring, const uint32_t *slots, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        ring_free(ring, slots[i]);
}
