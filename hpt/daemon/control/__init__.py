"""hptd's control plane: JSON-RPC 2.0 on a Unix socket (docs/control.md), every change live and whole.

The modules, one job each: ``rpc`` (JSON-RPC framing and errors), ``listener`` (the socket),
``document`` (the running configuration as TOML data), ``apply`` (a new configuration's difference,
prepared then committed), ``control`` (the lock and the change/reload steps), ``views`` (what show
answers), the handlers by object (``target``, ``lun``, ``account``, ``portal``, ``session``,
``system``) and ``methods`` (the method table).
"""

from hpt.daemon.control.control import Control
from hpt.daemon.control.document import Document
from hpt.daemon.control.listener import DEFAULT_SOCKET, ControlListener
from hpt.daemon.control.methods import methods

__all__ = ["DEFAULT_SOCKET", "Control", "ControlListener", "Document", "methods"]
