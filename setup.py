from setuptools import setup

setup(cffi_modules=["hpt/native/_build.py:ffi"])
