"""Normalisation of names, addresses, statutes and text. Pure, deterministic, idempotent.

Never logs, never raises on odd input: every function returns a value (or a problem set)
for any string, so validators can turn problems into reason codes.
"""
