"""cffi API-mode build of the zero-copy ring and the READ fast lane over it (run by setuptools at install:
``cffi_modules`` in setup.py)."""

from pathlib import Path

from cffi import FFI

HEADERS = [Path(__file__).with_name(name) for name in ("ringbuf.h", "quick.h")]

ffi = FFI()
# the declarations are the header's own, less its #include lines (cffi's cdef has no preprocessor)
ffi.cdef("\n".join(line for header in HEADERS for line in header.read_text().splitlines()
                   if not line.startswith("#")))
ffi.set_source(
    "hpt.native._ringbuf",
    '#include "ringbuf.h"\n#include "quick.h"',
    sources=["hpt/native/ringbuf.c", "hpt/native/quick.c"],
    include_dirs=["hpt/native"],
    extra_compile_args=["-O2", "-std=gnu11"],
)

if __name__ == "__main__":
    ffi.compile(verbose=False)
