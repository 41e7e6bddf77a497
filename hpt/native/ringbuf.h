/* hpt zero-copy buffer ring: the C interface (ringbuf.c; loaded through cffi by hpt/native/ring.py). */
#include <stdint.h>
#include <stddef.h>
size_t ring_header_bytes(uint32_t nslots);
size_t ring_bytes(uint32_t slot_size, uint32_t nslots);
int ring_init(void *base, uint32_t slot_size, uint32_t nslots);
int ring_check(const void *base);
uint64_t ring_data_offset(const void *base);
uint32_t ring_slot_size(const void *base);
uint32_t ring_nslots(const void *base);
uint64_t ring_in_use(const void *base);
int64_t ring_alloc(void *base);
int ring_free(void *base, uint32_t idx);
void ring_set_owner(uint32_t tag, uint32_t home);
uint32_t ring_reclaim(void *base, uint32_t tag);
