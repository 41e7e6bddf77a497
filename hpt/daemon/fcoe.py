"""Starting and stopping the configured FCoE ports in hptd (``[[fcoe_port]]`` in the configuration)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hpt.fcoe.frame import wwn_str
from hpt.fcoe.packet import PacketDriver, interface_mac, interface_mtu
from hpt.fcoe.port import FcoePort

if TYPE_CHECKING:
    from hpt.daemon.config import FcoePortConfig
    from hpt.daemon.server import Server

log = logging.getLogger("hpt.fcoe")

WWNN_PREFIX, WWPN_PREFIX = 0x1000 << 48, 0x2000 << 48  # open-fcoe: 10:00:<MAC> and 20:00:<MAC>


def default_names(mac: bytes) -> tuple[int, int]:
    """The WWNN and WWPN open-fcoe derives from an ENode MAC (fcoe_wwn_from_mac, NAA 1)."""
    raw = int.from_bytes(mac, "big")
    return WWNN_PREFIX | raw, WWPN_PREFIX | raw


def build_port(server: Server, pc: FcoePortConfig) -> FcoePort:
    """The sans-I/O port of one ``[[fcoe_port]]``; raises OSError for a missing interface."""
    mac = interface_mac(pc.interface)
    wwnn, wwpn = default_names(mac)
    target = server.targets[pc.targets[0]]
    return FcoePort(
        pc.interface,
        mac,
        pc.wwnn or wwnn,
        pc.wwpn or wwpn,
        target,
        server.ring,
        mtu=interface_mtu(pc.interface),
        initiators=pc.initiators,
        vlan=pc.vlan,
        mode=pc.mode,
    )


def start_fcoe_ports(server: Server) -> list[PacketDriver]:
    """Start every configured port, VN2VN or fabric; raises OSError (e.g. no such interface, no
    CAP_NET_RAW)."""
    drivers: list[PacketDriver] = []
    try:
        for pc in server.config.fcoe_ports:
            port = build_port(server, pc)
            driver = PacketDriver(port, pc.interface)
            driver.start()
            drivers.append(driver)
            log.info(
                "FCoE %s port on %s: WWPN %s, WWNN %s, target %s",
                "VN2VN" if pc.mode == "vn2vn" else "fabric",
                pc.interface,
                wwn_str(port.wwpn),
                wwn_str(port.wwnn),
                pc.targets[0],
            )
    except OSError:
        stop_fcoe_ports(drivers)
        raise
    return drivers


def stop_fcoe_ports(drivers: list[PacketDriver]) -> None:
    """Log every remote port out (LOGO) and stop the drivers."""
    for driver in drivers:
        driver.stop()
        log.info("FCoE port on %s stopped: %s", driver.interface, driver.port.status())
