"""hpt.native.verbs on a host without RDMA: its layouts match verbs.h, and a missing device is an error
that names it (the lab's soft-RoCE guest runs the rest: tests/lab/test_lab_hpt_iser.py)."""

from __future__ import annotations

import errno

import pytest

from hpt.native import verbs

_verbs = pytest.importorskip("hpt.native._verbs", reason="hpt.native._verbs not built (libibverbs-dev)")


def test_packed_rows_match_the_c_structures() -> None:
    assert verbs.WR.size == _verbs.ffi.sizeof("struct hv_wr")
    assert verbs.WC.size == _verbs.ffi.sizeof("struct hv_wc")
    assert (verbs.SEND, verbs.RDMA_WRITE, verbs.RDMA_READ) == (_verbs.lib.HV_SEND, _verbs.lib.HV_RDMA_WRITE,
                                                              _verbs.lib.HV_RDMA_READ)
    row = _verbs.ffi.new("struct hv_wr *")
    buf = _verbs.ffi.buffer(row)
    verbs.WR.pack_into(buf, 0, 1, 2, 3, 4, 5, 6, verbs.RDMA_READ, 1, 0)
    assert (row.wr_id, row.addr, row.remote_addr, row.length, row.lkey, row.rkey, row.op, row.signaled) == \
        (1, 2, 3, 4, 5, 6, verbs.RDMA_READ, 1)


def test_status_names_come_from_libibverbs() -> None:
    assert verbs.status_str(verbs.WC_SUCCESS) == "success"
    assert "Flush" in verbs.status_str(5)  # IBV_WC_WR_FLUSH_ERR


def test_an_address_on_no_rdma_device_is_refused() -> None:
    with pytest.raises(verbs.VerbsError) as err:
        verbs.Device(0, 16)
    assert err.value.errno == errno.ENODEV and "RDMA device" in str(err.value)
