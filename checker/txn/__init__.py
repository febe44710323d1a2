"""Elle-style checking of transaction histories (list-append and rw-register).

`check.check_txns` infers version orders, builds the ww/wr/rw/realtime dependency graph and
reports the shortest cycle of each anomaly class (G0, G1c, G-single, G2-item and their
realtime variants) plus the anomalies that need no cycle (aborted and intermediate reads,
incompatible orders, duplicate elements, reads of values never written).
"""
