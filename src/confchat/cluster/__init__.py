"""Several processes or hosts serving one audience (docs/cluster.md).

``log.py`` is the cluster's log as data; ``link.py`` the trio shell that
appends a node's conference operations (``core/ops.py``) to that log in
Redis and carries out every entry, in order, on this node.
"""
