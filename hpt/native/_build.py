"""cffi API-mode builds of hpt's C modules (run by setuptools at install: ``cffi_modules`` in setup.py).

``ffi``: the zero-copy ring and the fast lane over it. ``uring_ffi``: the io_uring engine over liburing
(when liburing.h exists). ``verbs_ffi``: the iSER driver's verbs data path over libibverbs and librdmacm
(when their headers exist: Debian's libibverbs-dev and librdmacm-dev).
"""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).parent


def _module(name: str, headers: list[str], sources: list[str], libraries: list[str], flags: list[str]) -> FFI:
    out = FFI()
    # the declarations are the headers' own, less their #include lines (cffi's cdef has no preprocessor)
    out.cdef("\n".join(line for header in headers for line in (HERE / header).read_text().splitlines()
                       if not line.startswith("#")))
    out.set_source(
        f"hpt.native.{name}",
        "\n".join(f'#include "{header}"' for header in headers),
        sources=[f"hpt/native/{source}" for source in sources],
        include_dirs=["hpt/native"],
        libraries=libraries,
        extra_compile_args=["-O2", "-std=gnu11", *flags],
    )
    return out


ffi = _module("_ringbuf", ["ringbuf.h", "quick.h"], ["ringbuf.c", "quick.c"], [], [])
uring_ffi = _module("_uring", ["uring.h"], ["uring.c"], ["uring"], ["-Wall"])
verbs_ffi = _module("_verbs", ["verbs.h"], ["verbs.c"], ["ibverbs", "rdmacm"], ["-Wall"])
