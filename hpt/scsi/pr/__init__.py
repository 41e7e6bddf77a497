"""Reservations: SPC-2 RESERVE/RELEASE and persistent reservations (SPC-5 5.13, 6.16, 6.17)."""
