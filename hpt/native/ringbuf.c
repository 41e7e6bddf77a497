/* hpt zero-copy buffer ring: fixed-size slots in one shared mapping, each slot owned by one process.
 *
 * The mapping starts with a header (magic, geometry), a bitmap of the slots in use and an owner word per
 * slot, followed by the slots, page aligned. All state lives in the mapping, so the processes that map the
 * same region (MAP_SHARED: hptd's workers, each handed the main process's memfd) allocate from one pool.
 *
 * A slot is taken with one compare-and-swap of its owner word from 0 to the taking process's tag (its pid,
 * ring_set_owner), so ownership and allocation are one atomic step: a process killed at any instruction
 * leaves every slot either free or owned by it, and ring_reclaim gives a dead process's slots back. The
 * bitmap only guides the search; the owner words decide. Each process searches from its home slot
 * (ring_set_owner: a worker's share of the ring) upwards, wrapping round: a lightly used ring touches few
 * pages, and processes that stay within their shares touch no bitmap or owner word of another's. Freeing
 * checks the owner, so a double free is refused instead of freeing a slot another process has taken since.
 */
#include <stdint.h>
#include <stddef.h>
#include "ringbuf.h"

#define RING_MAGIC 0x6870742d72696e32ULL /* "hpt-rin2": owner words (the free-stack layout was "hpt-ring") */

struct ring_hdr {
    uint64_t magic;
    uint32_t slot_size;
    uint32_t nslots;
    uint64_t data_offset;
    uint64_t busy_offset;  /* uint64_t busy[(nslots + 63) / 64]: a set bit: (probably) in use */
    uint64_t owner_offset; /* uint32_t owner[nslots]: 0 free, else the owning process's tag */
};

static uint32_t ring_me = 1;   /* this process's tag (its pid once ring_set_owner ran) */
static uint32_t ring_home = 0; /* the slot its searches start at */

static size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
static uint32_t nwords(uint32_t nslots) { return (nslots + 63) / 64; }
static uint64_t *busy_of(const struct ring_hdr *h) { return (uint64_t *)((uint8_t *)h + h->busy_offset); }
static uint32_t *owner_of(const struct ring_hdr *h) { return (uint32_t *)((uint8_t *)h + h->owner_offset); }

size_t ring_header_bytes(uint32_t nslots)
{
    return align_up(sizeof(struct ring_hdr) + (size_t)nwords(nslots) * 8 + (size_t)nslots * 4, 4096);
}

size_t ring_bytes(uint32_t slot_size, uint32_t nslots)
{
    return ring_header_bytes(nslots) + (size_t)slot_size * nslots;
}

void ring_set_owner(uint32_t tag, uint32_t home)
{
    ring_me = tag ? tag : 1;
    ring_home = home;
}

int ring_init(void *base, uint32_t slot_size, uint32_t nslots)
{
    struct ring_hdr *h = base;
    if (!base || slot_size == 0 || nslots == 0 || (slot_size & 511))
        return -1;
    h->slot_size = slot_size;
    h->nslots = nslots;
    h->busy_offset = sizeof(struct ring_hdr);
    h->owner_offset = h->busy_offset + (uint64_t)nwords(nslots) * 8;
    h->data_offset = ring_header_bytes(nslots);
    for (uint32_t w = 0; w < nwords(nslots); w++)
        busy_of(h)[w] = 0;
    for (uint32_t i = 0; i < nslots; i++)
        owner_of(h)[i] = 0;
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
    const struct ring_hdr *h = base;
    uint64_t n = 0;
    for (uint32_t i = 0; i < h->nslots; i++)
        n += __atomic_load_n(&owner_of(h)[i], __ATOMIC_RELAXED) != 0;
    return n;
}

int64_t ring_alloc(void *base)
{
    struct ring_hdr *h = base;
    uint64_t *busy = busy_of(h);
    uint32_t *owner = owner_of(h);
    uint32_t n = h->nslots, words = nwords(n), first = (ring_home / 64) % words;
    for (uint32_t k = 0; k < words; k++) {
        uint32_t w = (first + k) % words;
        uint64_t valid = (w == n / 64) ? (1ULL << (n % 64)) - 1 : ~0ULL;
        uint64_t free = ~__atomic_load_n(&busy[w], __ATOMIC_ACQUIRE) & valid;
        while (free) {
            uint32_t bit = (uint32_t)__builtin_ctzll(free);
            uint32_t idx = w * 64 + bit, none = 0;
            if (__atomic_compare_exchange_n(&owner[idx], &none, ring_me, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
                __atomic_fetch_or(&busy[w], 1ULL << bit, __ATOMIC_RELEASE);
                return idx;
            }
            free &= free - 1; /* another process's since the bitmap was read */
        }
    }
    return -1;
}

int ring_free(void *base, uint32_t idx)
{
    struct ring_hdr *h = base;
    uint32_t mine = ring_me;
    if (idx >= h->nslots)
        return -1;
    if (!__atomic_compare_exchange_n(&owner_of(h)[idx], &mine, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return -2; /* free already, or not this process's */
    __atomic_fetch_and(&busy_of(h)[idx / 64], ~(1ULL << (idx % 64)), __ATOMIC_RELEASE);
    return 0;
}

uint32_t ring_reclaim(void *base, uint32_t tag)
{
    struct ring_hdr *h = base;
    uint64_t *busy = busy_of(h);
    uint32_t *owner = owner_of(h);
    uint32_t freed = 0;
    for (uint32_t i = 0; i < h->nslots; i++) {
        uint32_t held = tag;
        if (__atomic_compare_exchange_n(&owner[i], &held, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            freed++;
        else if (held != 0)
            continue;
        /* free now (or died between a free's two steps): its bit goes too */
        __atomic_fetch_and(&busy[i / 64], ~(1ULL << (i % 64)), __ATOMIC_RELEASE);
    }
    return freed;
}
