"""The direct-access device's VPD pages (SBC-4 6.6) and the block limits the disk commands enforce."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.transfer import MAX_BUFFER
from hpt.scsi.spc.vpd import VpdPage

if TYPE_CHECKING:
    from hpt.scsi.core.command import Nexus
    from hpt.scsi.lu import LogicalUnit, LuParams
    from hpt.store.base import BackingStore

# Block limits the SBC commands honour (SBC-4 6.6.4); 0xFFFFFFFF and 0 mean "no limit".
MAX_CAW_BLOCKS = 255  # MAXIMUM COMPARE AND WRITE LENGTH
MAX_UNMAP_LBA_COUNT = 0xFFFFFFFF
MAX_UNMAP_BLOCK_DESCRIPTORS = 4095  # the most a 16-bit UNMAP parameter list length holds (SBC-4 5.32)
MAX_WRITE_SAME_BLOCKS = 0
WRITE_SAME_NON_ZERO = False  # WSNZ 0: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 runs to the last LBA
UNMAP_GRANULARITY_BYTES = 4096  # hole-punch granularity of file stores
MAX_ATOMIC_BLOCKS = 0xFFFF  # WRITE ATOMIC(16)'s NUMBER OF LOGICAL BLOCKS is 16 bits (SBC-4 5.48)


def physical_ratio(params: LuParams) -> int:
    """Logical blocks per physical block (``physical_block_size`` / ``block_size``, at least 1)."""
    return max(1, (params.extra.get("physical_block_size") or params.block_size) // params.block_size)


def max_transfer_blocks(params: LuParams) -> int:
    """MAXIMUM TRANSFER LENGTH (SBC-4 6.6.4): ``max_xfer_blocks``, at most what one command's buffer may
    hold (``MAX_BUFFER``: beyond it every transport answers CHECK CONDITION), which it is when unset."""
    most = MAX_BUFFER // params.block_size
    return min(params.max_xfer_blocks, most) if params.max_xfer_blocks else most


def max_atomic_blocks(params: LuParams) -> int:
    """MAXIMUM ATOMIC TRANSFER LENGTH (SBC-4 6.6.4): what WRITE ATOMIC(16)'s 16-bit length holds, at
    most the MAXIMUM TRANSFER LENGTH (which SBC-4 requires of it)."""
    return min(max_transfer_blocks(params), MAX_ATOMIC_BLOCKS)


def _block_limits(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """B0h Block Limits (SBC-4 6.6.4): unmap limits only on thin-provisioned LUs (granularity: a
    physical block, at least the file stores' hole-punch unit); the optimal transfer length
    granularity is a physical block; the atomic fields say what WRITE ATOMIC(16) takes (no alignment
    or granularity beyond a physical block; no atomic boundary)."""
    p = lu.params
    thin = p.thin
    ratio = physical_ratio(p)
    granularity = max(ratio, UNMAP_GRANULARITY_BYTES // p.block_size)
    atomic = max_atomic_blocks(p)
    return struct.pack(
        ">BBHIIIIIIIQIIIII",
        0x01 if WRITE_SAME_NON_ZERO else 0,
        MAX_CAW_BLOCKS,
        ratio if ratio > 1 else 0,  # OPTIMAL TRANSFER LENGTH GRANULARITY
        max_transfer_blocks(p),
        p.optimal_xfer_blocks,
        0,  # MAXIMUM PREFETCH LENGTH
        MAX_UNMAP_LBA_COUNT if thin else 0,
        MAX_UNMAP_BLOCK_DESCRIPTORS if thin else 0,
        granularity if thin else 0,
        0x80000000 if thin else 0,  # UGAVALID, UNMAP GRANULARITY ALIGNMENT 0
        MAX_WRITE_SAME_BLOCKS,
        atomic,  # MAXIMUM ATOMIC TRANSFER LENGTH
        0,  # ATOMIC ALIGNMENT: any LBA
        0,  # ATOMIC TRANSFER LENGTH GRANULARITY: any length
        0,  # MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY: no boundaries
        0,  # MAXIMUM ATOMIC BOUNDARY SIZE
    )


WABEREQ_GOOD = 0x40  # byte 7: a read after SANITIZE BLOCK ERASE returns GOOD (the blocks read as zeroes)
WACEREQ_GOOD = 0x10  # byte 7: a read after SANITIZE CRYPTO ERASE returns GOOD (what the new key makes of it)


def can_crypto_erase(store: BackingStore | None) -> bool:
    """Whether a LU over ``store`` offers SANITIZE CRYPTO ERASE: the store's answer (SBC-4 4.11.5)."""
    return store is not None and store.supports_crypto_erase


def _block_device_characteristics(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """B1h Block Device Characteristics (SBC-4 6.6.2): MEDIUM ROTATION RATE; WABEREQ 01b where
    SANITIZE BLOCK ERASE is offered (a thin LU), WACEREQ 01b where CRYPTO ERASE is."""
    flags = (WABEREQ_GOOD if lu.params.thin else 0) | (WACEREQ_GOOD if can_crypto_erase(lu.store) else 0)
    return struct.pack(">HxB56x", lu.params.rotation_rate, flags)


def _logical_block_provisioning(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """B2h Logical Block Provisioning (SBC-4 6.6.6): thin (LBPU LBPWS LBPWS10 LBPRZ=001b) or full."""
    if lu.params.thin:
        return struct.pack(">BBBB", 0, 0x80 | 0x40 | 0x20 | 0x04, 0x02, 0)
    return bytes(4)


DISK_VPD_PAGES = (
    VpdPage(0xB0, _block_limits),
    VpdPage(0xB1, _block_device_characteristics),
    VpdPage(0xB2, _logical_block_provisioning),
)
