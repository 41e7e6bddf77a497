"""cffi API-mode build of the zero-copy ring (run by setuptools at install: ``cffi_modules`` in setup.py)."""

from cffi import FFI

ffi = FFI()
ffi.cdef(
    """
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
    """
)
ffi.set_source(
    "hpt.native._ringbuf",
    '#include "ringbuf.h"',
    sources=["hpt/native/ringbuf.c"],
    include_dirs=["hpt/native"],
    extra_compile_args=["-O2", "-std=gnu11"],
)

if __name__ == "__main__":
    ffi.compile(verbose=False)
