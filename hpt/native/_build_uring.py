"""cffi API-mode build of the io_uring engine over liburing (in setup.py only when liburing.h exists)."""

from pathlib import Path

from cffi import FFI

HEADER = Path(__file__).with_name("uring.h")

ffi = FFI()
# the declarations are the header's own, less its #include lines (cffi's cdef has no preprocessor)
ffi.cdef("\n".join(line for line in HEADER.read_text().splitlines() if not line.startswith("#")))
ffi.set_source(
    "hpt.native._uring",
    '#include "uring.h"',
    sources=["hpt/native/uring.c"],
    include_dirs=["hpt/native"],
    libraries=["uring"],
    extra_compile_args=["-O2", "-std=gnu11", "-Wall"],
)

if __name__ == "__main__":
    ffi.compile(verbose=False)
