"""hptd's answers as tgtadm prints them (``tgtadm --op show --mode target`` and friends), from the JSON
objects of docs/control.md."""

from __future__ import annotations

from typing import Any

I1, I2, I3, I4 = "    ", "        ", "            ", "                "


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def _lun(lun: dict[str, Any]) -> list[str]:
    opts = lun.get("store_options", {})
    return [
        f"{I2}LUN: {lun['lun']}",
        f"{I3}Type: {lun['type']}",
        f"{I3}SCSI ID: {lun['vendor']} {lun['product']}",
        f"{I3}SCSI SN: {lun['serial']}",
        f"{I3}Size: {round(lun['size'] / 1e6)} MB, Block size: {lun['block_size']}",
        f"{I3}Online: {_yes(lun['online'])}",
        f"{I3}Removable media: {_yes(lun['removable'])}",
        f"{I3}Readonly: {_yes(lun['readonly'])}",
        f"{I3}Thin-provisioning: {_yes(lun['thin'])}",
        f"{I3}Backing store type: {lun['store']}",
        f"{I3}Backing store path: {opts.get('path', 'None')}",
        f"{I3}Backing store flags: {'direct' if opts.get('direct') else ''}".rstrip(),
    ]


def _session(s: dict[str, Any]) -> list[str]:
    lines = [f"{I2}I_T nexus: {s['sid']}", f"{I3}Initiator: {s['initiator']} alias: none"]
    for c in s["connections"]:
        lines += [f"{I3}Connection: {c['cid']}", f"{I4}IP Address: {c['peer'].rsplit(':', 1)[0]}"]
    return lines


def targets(answer: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for t in answer:
        out += [f"Target {t['tid']}: {t['name']}", f"{I1}System information:", f"{I2}Driver: iscsi",
                f"{I2}State: {t['state']}", f"{I1}I_T nexus information:"]
        for s in t["sessions"]:
            out += _session(s)
        out.append(f"{I1}LUN information:")
        for lun in t["luns"]:
            out += _lun(lun)
        out.append(f"{I1}Account information:")
        out += [f"{I2}{u}" for u in t["incoming"]]
        out += [f"{I2}{t['outgoing']} (outgoing)"] if t["outgoing"] else []
        out.append(f"{I1}ACL information:")
        acl = t["addresses"] + t["initiators"]
        out += [f"{I2}{a}" for a in acl] or [f"{I2}ALL"]
    return "\n".join(out)


def accounts(answer: list[str]) -> str:
    return "\n".join(["Account list:", *(f"{I1}{u}" for u in answer)])


def portals(answer: list[dict[str, Any]]) -> str:
    return "\n".join(f"Portal: {p['address']},{p['group']}" + (" (iser)" if p["transport"] == "iser" else "")
                     for p in answer)


def sessions(answer: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for s in answer:
        out += [f"Session: {s['sid']}", f"{I1}Initiator: {s['initiator']}", f"{I1}ISID: {s['isid']}",
                f"{I1}Target: {s['target']}"]
        for c in s["connections"]:
            out += [f"{I1}Connection: {c['cid']}", f"{I2}IP Address: {c['peer']}",
                    f"{I2}Portal: {c['portal']}"]
    return "\n".join(out)


def connections(answer: list[dict[str, Any]]) -> str:
    return "\n".join(f"Session: {c['sid']}\n{I1}Connection: {c['cid']}\n{I2}IP Address: {c['peer']}"
                     for c in answer)


def system(answer: dict[str, Any]) -> str:
    out = ["System:", f"{I1}State: {answer['state']}", f"{I1}hptd version: {answer['version']}",
           f"{I1}pid: {answer['pid']}", f"{I1}configuration: {answer['config'] or 'none'}", "Portals:"]
    out += [f"{I1}{p['address']},{p['group']} ({p['transport']})" for p in answer["portals"]]
    out += [f"Targets: {answer['targets']}", f"Sessions: {answer['sessions']}"]
    return "\n".join(out)


def stats(answer: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for s in answer:
        out.append(f"Target {s['tid']}: {s['name']} LUN: {s['lun']}")
        out += [f"{I1}{key}: {value}" for key, value in s["counters"].items()]
    return "\n".join(out)


FORMATS = {"target.show": targets, "account.show": accounts, "portal.show": portals,
           "session.show": sessions, "connection.show": connections, "sys.show": system,
           "lun.stat": stats}


def render(method: str, answer: Any) -> str:
    """The text tgtadm would print; changes print nothing, as with tgtadm."""
    if method == "sys.dump":
        return str(answer).rstrip("\n")
    fmt = FORMATS.get(method)
    return fmt(answer) if fmt is not None else ""
