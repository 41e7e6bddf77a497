"""iSER (RFC 7145): iSCSI over RDMA verbs, a thin driver over the same sans-I/O iSCSI core as TCP.

``header`` and ``cm`` are pure codecs (the iSER header, Hello/HelloReply, CM private data); ``verbs``,
``endpoint`` and ``portal`` drive pyverbs and are imported lazily, so hpt runs where rdma-core is absent.
"""
