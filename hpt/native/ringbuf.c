/* hpt zero-copy buffer ring: fixed-size slots in one shared mapping, handed out by a lock-free stack.
 *
 * The mapping starts with a header (magic, geometry, free-stack head, per-slot next links) followed by the
 * slots, page aligned. All state lives in the mapping, so several processes that map the same region
 * (MAP_SHARED) allocate from one pool. The stack head carries a 32-bit tag beside the slot index to defeat
 * ABA under concurrent pop/push.
 */
#include <stdint.h>
#include <stddef.h>
#include "ringbuf.h"

#define RING_MAGIC 0x6870742d72696e67ULL /* "hpt-ring" */
#define RING_NIL 0xffffffffu

struct ring_hdr {
    uint64_t magic;
    uint32_t slot_size;
    uint32_t nslots;
    uint64_t data_offset;
    uint64_t head;       /* (tag << 32) | index, index RING_NIL when empty */
    uint64_t in_use;     /* slots handed out, for statistics */
    uint32_t next[];     /* free-list links */
};

static size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

size_t ring_header_bytes(uint32_t nslots)
{
    return align_up(sizeof(struct ring_hdr) + (size_t)nslots * sizeof(uint32_t), 4096);
}

size_t ring_bytes(uint32_t slot_size, uint32_t nslots)
{
    return ring_header_bytes(nslots) + (size_t)slot_size * nslots;
}

int ring_init(void *base, uint32_t slot_size, uint32_t nslots)
{
    struct ring_hdr *h = base;
    if (!base || slot_size == 0 || nslots == 0 || (slot_size & 511))
        return -1;
    h->slot_size = slot_size;
    h->nslots = nslots;
    h->data_offset = ring_header_bytes(nslots);
    for (uint32_t i = 0; i < nslots; i++)
        h->next[i] = (i + 1 < nslots) ? i + 1 : RING_NIL;
    h->in_use = 0;
    __atomic_store_n(&h->head, (uint64_t)0, __ATOMIC_RELEASE);
    __atomic_store_n(&h->magic, RING_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

int ring_check(const void *base)
{
    const struct ring_hdr *h = base;
    return __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == RING_MAGIC ? 0 : -1;
}

uint64_t ring_data_offset(const void *base) { return ((const struct ring_hdr *)base)->data_offset; }
uint32_t ring_slot_size(const void *base) { return ((const struct ring_hdr *)base)->slot_size; }
uint32_t ring_nslots(const void *base) { return ((const struct ring_hdr *)base)->nslots; }
uint64_t ring_in_use(const void *base)
{
    return __atomic_load_n(&((const struct ring_hdr *)base)->in_use, __ATOMIC_RELAXED);
}

int64_t ring_alloc(void *base)
{
    struct ring_hdr *h = base;
    uint64_t old = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
    for (;;) {
        uint32_t idx = (uint32_t)old;
        if (idx == RING_NIL)
            return -1;
        uint32_t nxt = __atomic_load_n(&h->next[idx], __ATOMIC_RELAXED);
        uint64_t neu = ((old >> 32) + 1) << 32 | nxt;
        if (__atomic_compare_exchange_n(&h->head, &old, neu, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_add_fetch(&h->in_use, 1, __ATOMIC_RELAXED);
            return idx;
        }
    }
}

int ring_free(void *base, uint32_t idx)
{
    struct ring_hdr *h = base;
    if (idx >= h->nslots)
        return -1;
    uint64_t old = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
    for (;;) {
        __atomic_store_n(&h->next[idx], (uint32_t)old, __ATOMIC_RELAXED);
        uint64_t neu = ((old >> 32) + 1) << 32 | idx;
        if (__atomic_compare_exchange_n(&h->head, &old, neu, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_sub_fetch(&h->in_use, 1, __ATOMIC_RELAXED);
            return 0;
        }
    }
}
