"""Normalisation of names, addresses, statutes and text. Pure, deterministic, idempotent.

Never logs, never raises on odd input: every function returns a value (or a problem set)
for any string, so validators can turn problems into reason codes.
"""

from collections.abc import Callable

# Bump when a normaliser's output changes: reference snapshots are named by it, so a
# snapshot normalised by older rules is never mistaken for a current one.
NORMALISE_VERSION = "11"

# A normaliser of one row of raw strings (a master file's name or address parts) into the
# row of its normalised columns, and a load's step running one: (table, the SQL of the
# distinct raw values, the normaliser, its columns). The reference load runs its steps in
# DuckDB or on Spark (``reference.snapshot.NORMALISED``).
RowFunction = Callable[[tuple[str, ...]], tuple[str, ...]]
NormaliseStep = tuple[str, str, RowFunction, tuple[str, ...]]
