# hpt from the read-only 9p share (/src) under the guest's own python3: same minor version as the host,
# the project's dependencies and its native ring module importable, Debian's pyverbs beside it.
python3 - <<'PY'
import sys

assert sys.version_info[:2] == (3, 11), sys.version
import crc32c
import pyverbs.device

import hpt
from hpt.native.ring import Ring

assert hpt.__file__.startswith("/src/"), hpt.__file__
ring = Ring(slot_size=4096, nslots=4)
slot = ring.alloc()
ring.view(slot)[:5] = b"hello"
assert bytes(ring.view(slot)[:5]) == b"hello"
ring.free(slot)
print(f"== python {sys.version.split()[0]}, hpt from {hpt.__file__}, crc32c {crc32c.crc32c(b'123456789'):#x}")
print(f"== pyverbs from {pyverbs.device.__file__}")
PY
python3 -m hpt.daemon --help > /dev/null
log "hptd --help runs in the guest"
