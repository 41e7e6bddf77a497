"""FCoE target transport: FIP VN2VN or fabric login (FC-BB-6 7.8), FC-2 framing, ELS/BLS (FC-LS-3),
name server registration (FC-GS-7) and FCP (FCP-4).

Sans-I/O protocol machines (``frame``, ``fip``, ``vn2vn``, ``fcf``, ``fabric``, ``ct``, ``nameserver``,
``els``, ``fcp``, ``exchange``, ``port``)
over an AF_PACKET driver (``packet``); ``service`` starts the configured ports in hptd.
"""
