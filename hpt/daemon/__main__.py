"""``python -m hpt.daemon``: run hptd."""

from hpt.daemon.main import main

raise SystemExit(main())
