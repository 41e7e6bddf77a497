"""hptadm: live administration of a running hptd in tgtadm's language, over its control socket.

The modules, one job each: ``client`` (JSON-RPC 2.0 over the Unix socket), ``tgtadm`` (the command
line, tgtadm's options turned into requests), ``tgtnames`` (tgt's LU parameter and store names in hpt's
terms), ``show`` (tgtadm-shaped text) and ``toml`` (the TOML writer). Nothing here imports the daemon:
hptadm speaks to it through the socket only.
"""
