"""Policy: the custodian's rules and the pure statutory validation of requests.

Pure layer: no I/O, no logging of values, deterministic for a given input and as-of date.
"""
