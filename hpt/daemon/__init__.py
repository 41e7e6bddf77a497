"""hptd: configuration, the server that builds targets and portals from it, and the process around them.

Nothing in a protocol core, a transport or the SCSI engine imports this package."""
