import os

from setuptools import setup

CFFI_MODULES = ["hpt/native/_build.py:ffi"]
# the io_uring engine needs liburing's header (Debian: liburing-dev); without it hpt installs without it
if os.path.exists("/usr/include/liburing.h"):
    CFFI_MODULES.append("hpt/native/_build_uring.py:ffi")

setup(cffi_modules=CFFI_MODULES)
