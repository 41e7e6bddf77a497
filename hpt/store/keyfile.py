"""The key file of a store kept encrypted (a LUN's ``encryption_key_file``, :mod:`hpt.store.crypt`).

It holds the 64 random bytes of an AES-256-XTS key (IEEE 1619: two different AES-256 keys) and nothing
else, mode 0600. hptd creates it when it is missing; SANITIZE CRYPTO ERASE (SBC-4 4.11.5) replaces it
whole: a new key is written to a temporary file beside it, synced and renamed over it before the
store uses it, so after a crash or restart the file holds the key the data was last written with.
Several processes may open the same LU at once (hptd's workers): the first to create the file wins,
and the others read its key.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

KEY_BYTES = 64  # AES-256-XTS: a data key and a tweak key of 32 bytes each

log = logging.getLogger("hpt.store")


def key_file_problem(path: str) -> str | None:
    """What keeps ``path`` from being a key file hptd can read or create (checked with the
    configuration, before any store is opened); None when nothing does."""
    file = Path(path)
    if file.is_dir():
        return f"{path} is a directory, not a key file"
    if file.exists():
        if not file.is_file():
            return f"{path} is not a regular file"
        if not os.access(file, os.R_OK):
            return f"{path} cannot be read"
        return None
    if not file.parent.is_dir():
        return f"{path}: its directory {file.parent} does not exist (hptd creates the file, not directories)"
    if not os.access(file.parent, os.W_OK | os.X_OK):
        return f"{path} does not exist and its directory {file.parent} is not writable: hptd cannot create it"
    return None


def new_key() -> bytes:
    """64 random bytes whose two halves differ (XTS refuses a data key equal to its tweak key)."""
    while True:
        key = os.urandom(KEY_BYTES)
        if key[:32] != key[32:]:
            return key


def load_key(path: str) -> bytes:
    """The key in ``path``; a new one written there first when there is no such file. OSError names
    a file that is not a key."""
    if not os.path.lexists(path):
        key = new_key()
        if save_key(path, key, create=True):
            log.info("encryption key file %s created", path)
            return key
        # another process (a worker opening the same LU) created it first: its key is the LU's
    with open(path, "rb") as f:
        key = f.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES or key[:32] == key[32:]:
        raise OSError(errno.EINVAL, f"not an encryption key: it must hold {KEY_BYTES} random bytes "
                                    f"(AES-256-XTS), it holds {len(key)}", path)
    mode = os.stat(path).st_mode
    if mode & 0o077:
        log.warning("encryption key file %s can be read by others (mode %03o): chmod 600 it", path,
                    mode & 0o777)
    return key


def save_key(path: str, key: bytes, *, create: bool = False) -> bool:
    """Put ``key`` in ``path`` whole (mode 0600): a temporary file beside it (this process's), synced,
    renamed over it; with ``create``, linked there only if there is no such file yet. Whether it is
    there (False: ``create`` found the file made meanwhile, which stays as it is)."""
    tmp = f"{path}.new.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a temporary file left by a crash may have had other bits
        view = memoryview(key)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if create:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as err:  # a file system without hard links: a rename, which a creator racing
            # between the check and the rename may still replace (only link(2) refuses an existing file)
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            if os.path.lexists(path):
                return False
            os.rename(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    else:
        os.replace(tmp, path)
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(directory)  # the rename itself is durable
    finally:
        os.close(directory)
    return True
