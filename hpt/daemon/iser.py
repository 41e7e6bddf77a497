"""Start an iSER portal for the daemon, or say clearly why it is unavailable (TCP portals start anyway)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hpt.iser.verbs import IserUnavailable

if TYPE_CHECKING:
    from hpt.daemon.config import PortalConfig
    from hpt.iscsi.context import IscsiContext
    from hpt.iser.portal import IserPortal
    from hpt.native.ring import Ring

log = logging.getLogger("hpt.iser")


def start_iser_portal(pc: PortalConfig, context: IscsiContext, ring: Ring) -> IserPortal | None:
    """The running portal, or None after logging why iSER is unavailable on ``pc``."""
    try:
        from hpt.iser.portal import IserPortal

        portal = IserPortal(pc.host, pc.port, context, ring)
    except IserUnavailable as err:
        log.error("portal %s: iSER portal unavailable: %s", pc.address, err)
        return None
    portal.start()
    log.info("listening on %s (iSER, portal group %d)", pc.address, pc.group)
    return portal
