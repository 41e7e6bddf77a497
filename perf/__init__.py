"""End-to-end performance harness: hptd against Debian's tgtd, measured with fio's libiscsi engine."""
