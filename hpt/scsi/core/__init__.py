"""The SCSI engine's foundation: commands, sense, CDB decoding, opcode tables, unit attentions,
device profiles and the per-LU task set (SAM-5). Nothing here knows a device type."""
