"""cffi API-mode build of the zero-copy ring (run by setuptools at install: ``cffi_modules`` in setup.py)."""

from pathlib import Path

from cffi import FFI

HEADER = Path(__file__).with_name("ringbuf.h")

ffi = FFI()
# the declarations are the header's own, less its #include lines (cffi's cdef has no preprocessor)
ffi.cdef("\n".join(line for line in HEADER.read_text().splitlines() if not line.startswith("#")))
ffi.set_source(
    "hpt.native._ringbuf",
    '#include "ringbuf.h"',
    sources=["hpt/native/ringbuf.c"],
    include_dirs=["hpt/native"],
    extra_compile_args=["-O2", "-std=gnu11"],
)

if __name__ == "__main__":
    ffi.compile(verbose=False)
