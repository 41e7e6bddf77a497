"""The medium changer (SMC-3): element model, commands, mode pages and its device profile."""
