import os

from setuptools import setup

CFFI_MODULES = ["hpt/native/_build.py:ffi"]
# the io_uring engine needs liburing's header (Debian: liburing-dev); without it hpt installs without it
if os.path.exists("/usr/include/liburing.h"):
    CFFI_MODULES.append("hpt/native/_build.py:uring_ffi")
# iSER's verbs data path needs the rdma-core headers (Debian: libibverbs-dev, librdmacm-dev); without them
# hpt installs without iSER (its portals then say why they cannot start)
if os.path.exists("/usr/include/infiniband/verbs.h") and os.path.exists("/usr/include/rdma/rdma_cma.h"):
    CFFI_MODULES.append("hpt/native/_build.py:verbs_ffi")

setup(cffi_modules=CFFI_MODULES)
