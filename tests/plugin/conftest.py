"""The plugin run as another project runs it: pytester writes that project's tests and runs pytest on
them in a subprocess, with hpt installed (the ``pytest11`` entry point) or loaded with ``-p``
(``pytester`` itself is loaded by the top-level ``tests/conftest.py``)."""
