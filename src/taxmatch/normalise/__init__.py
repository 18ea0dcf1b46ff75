"""Normalisation of names, addresses, statutes and text. Pure, deterministic, idempotent.

Never logs, never raises on odd input: every function returns a value (or a problem set)
for any string, so validators can turn problems into reason codes.
"""

# Bump when a normaliser's output changes: reference snapshots are named by it, so a
# snapshot normalised by older rules is never mistaken for a current one.
NORMALISE_VERSION = "10"
