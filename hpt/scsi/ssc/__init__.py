"""The sequential-access (tape) device type (SSC-4)."""
