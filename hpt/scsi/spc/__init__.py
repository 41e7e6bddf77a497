"""The primary commands every device type shares (SPC-5): INQUIRY and VPD pages, MODE SENSE/SELECT,
REPORT LUNS, REPORT SUPPORTED OPERATION CODES, ALUA and the small ones. They ask the LU's device
profile for its pages; they keep no per-type registries."""
