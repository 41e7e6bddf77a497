"""MMC-6: the DVD drive (DVD-ROM and DVD+R) and its discs, the jukebox\x27s drive."""
