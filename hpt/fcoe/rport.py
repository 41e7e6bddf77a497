"""A remote N_Port logged in to the local port (FC-LS-3 6.6 PLOGI; FCP-4 6.3 process login)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hpt.scsi.core.command import Nexus

PROTOCOL_FCP = 0  # SPC-5 7.6.1


def port_name(wwpn: int) -> str:
    """The SCSI port name of an FC N_Port: its N_Port_Name (SPC-5 7.6.4.2), written ``0x`` + 16 hex digits."""
    return f"0x{wwpn:016x}"


@dataclass(slots=True)
class RemotePort:
    """Login state of one remote port: N_Port login, then the FCP image pair (PRLI)."""

    port_id: int
    wwpn: int
    wwnn: int
    max_payload: int  # largest FC data field it receives
    nexus: Nexus
    prli: bool = False
    seq_id: int = field(default=0)

    @property
    def state(self) -> str:
        return "ready" if self.prli else "plogi"

    def next_seq_id(self) -> int:
        self.seq_id = (self.seq_id + 1) & 0xFF
        return self.seq_id


def make_rport(port_id: int, wwpn: int, wwnn: int, max_payload: int, local_wwpn: int) -> RemotePort:
    nexus = Nexus(initiator_port=port_name(wwpn), target_port=port_name(local_wwpn), protocol=PROTOCOL_FCP)
    return RemotePort(port_id, wwpn, wwnn, max_payload, nexus)
