"""The direct-access block device (SBC-4): its opcode table, handlers and device profile."""
