"""hptd's worker processes (``[daemon] workers``, docs/workers.md): the main process accepts iSCSI/TCP
connections and hands each to a worker (``supervisor.py``), and keeps what the workers share
(``owner.py``); each worker serves its sessions over every LU (``worker.py``)."""
