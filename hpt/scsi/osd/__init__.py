"""The object-based storage device (T10 OSD-2, peripheral device type 11h)."""
