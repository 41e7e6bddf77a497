"""A worker's view of what the main process keeps for every worker (``owner.py``): the LUs' shared
objects, the memory of their ``ram`` stores, the CHAP failure delay and the session table, each
reached over the worker's channel."""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Callable

from hpt.daemon.workers.channel import Channel, ChannelClosed, Message, RemoteError
from hpt.iscsi.limits import AuthPenalty, Limits
from hpt.iscsi.session import Session, SessionTable
from hpt.native.ring import Ring
from hpt.store.base import SharedMemory

log = logging.getLogger("hpt.daemon.workers")


class OwnedObject:
    """A ``SharedObject`` (``hpt.store.shared``) kept by the main process for every worker."""

    def __init__(self, channel: Channel, name: str, watches: Watches) -> None:
        self.channel, self.name, self.watches = channel, name, watches

    def read(self) -> tuple[bytes, int]:
        reply = self.channel.call("read", name=self.name)
        return base64.b64decode(reply["data"]), int(reply["version"])

    def write(self, data: bytes, version: int) -> int | None:
        reply = self.channel.call("write", name=self.name, data=base64.b64encode(data).decode(),
                                  version=version)
        return None if reply["version"] is None else int(reply["version"])

    def watch(self, notified: Callable[[bytes], None]) -> None:
        self.watches.add(self.name, notified)
        self.channel.call("watch", name=self.name)

    def notify(self, payload: bytes, timeout: float = 5.0) -> bool:
        try:
            reply = self.channel.call("notify", timeout + 2, name=self.name, timeout=timeout,
                                      payload=base64.b64encode(payload).decode())
        except (ChannelClosed, RemoteError) as err:
            log.warning("%s: notification: %s", self.name, err)
            return False
        return bool(reply["ok"])

    def close(self) -> None:
        self.watches.remove(self.name)
        try:
            self.channel.call("unwatch", name=self.name)
        except (ChannelClosed, RemoteError):
            pass


class RemotePenalty:
    """The CHAP failure delay the main process counts over every worker (``owner.py``); this process's
    own if the main process cannot be reached (it is going away)."""

    def __init__(self, channel: Channel, limits: Limits) -> None:
        self.channel = channel
        self.local = AuthPenalty(limits)

    def failed(self, key: tuple[str, str], now: float | None = None) -> float:
        try:
            return float(self.channel.call("auth_failed", key=list(key))["delay"])
        except (ChannelClosed, RemoteError):
            return self.local.failed(key, now)

    def succeeded(self, key: tuple[str, str]) -> None:
        try:
            self.channel.post({"op": "auth_ok", "key": list(key)})
        except ChannelClosed:
            self.local.succeeded(key)


def owned_memory(channel: Channel, target: str, lun: int, size: int) -> SharedMemory:
    """The memfd of ``size`` bytes the main process keeps for LUN ``lun`` of ``target`` (``memory.py``),
    mapped by every worker; unmapped (told to the main process) when the store closes it."""
    key = f"{target}/{lun}/{size}"
    fds = channel.call("map", key=key, size=size).get("fds") or []
    if len(fds) != 1:
        raise OSError(f"{key}: the main process sent {len(fds)} descriptors for the LU's memory, not 1")

    def unmapped() -> None:
        try:
            channel.post({"op": "unmap", "key": key})
        except ChannelClosed:
            pass

    return SharedMemory(fds[0], unmapped)


def shared_ring(channel: Channel) -> Ring:
    """The buffer ring the main process keeps (a memfd every worker maps: one pool of slots)."""
    reply = channel.call("ring")
    fds = reply.get("fds") or []
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise OSError(f"the main process sent {len(fds)} descriptors for the buffer ring, not 1")
    try:
        return Ring(fd=fds[0], home=int(reply.get("home", 0)))
    finally:
        os.close(fds[0])


class Watches:
    """The handlers of this worker's watched objects, by name (``notified`` requests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[bytes], None]] = {}

    def add(self, name: str, handler: Callable[[bytes], None]) -> None:
        with self._lock:
            self._handlers[name] = handler

    def remove(self, name: str) -> None:
        with self._lock:
            self._handlers.pop(name, None)

    def deliver(self, m: Message) -> Message:
        with self._lock:
            handler = self._handlers.get(m["name"])
        if handler is not None:
            handler(base64.b64decode(m["payload"]))
        return {}


class WorkerSessions(SessionTable):
    """This worker's sessions; TSIHs and which worker holds each session come from the main process."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def new_tsih(self) -> int:
        return int(self.channel.call("tsih")["tsih"])

    def add(self, session: Session) -> Session | None:
        old = super().add(session)
        # closes a session of this key on another worker first (reinstatement, RFC 7143 6.3.5)
        self.channel.call("claim", key=list(_key(session)), tsih=session.tsih)
        return old

    def remove(self, session: Session) -> None:
        if self.find(*_key(session)) is not session:
            return
        super().remove(session)
        try:
            self.channel.post({"op": "release", "key": list(_key(session)), "tsih": session.tsih})
        except ChannelClosed:
            pass

    def held(self, initiator_name: str, isid: int) -> int:
        """The initiator's normal sessions on every worker (the main process's table)."""
        return int(self.channel.call("held", initiator=initiator_name, isid=isid)["held"])

    def close_session(self, m: Message) -> Message:
        """The main process's ``close``: a login on another worker reinstates this session."""
        session = self.find(*m["key"])
        if session is not None and session.tsih == m["tsih"]:
            log.info("session %s isid %#x reinstated on another worker", session.initiator_name, session.isid)
            session.close("session reinstatement")
        return {}


def _key(session: Session) -> tuple[str, int, str]:
    return session.initiator_name, session.isid, session.target_name
