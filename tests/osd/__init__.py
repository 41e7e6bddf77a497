"""A small OSD-2 initiator written from the standard, and its tests over hptd."""
