"""Removable media as files: the tape cartridge format (``docs/media.md``) and ``hptimg``."""
