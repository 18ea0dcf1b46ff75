"""Every error class that sets a code has one of its own: a code names one kind of failure."""

from __future__ import annotations

import importlib
import pkgutil

import taxmatch
from taxmatch.errors import TaxmatchError


def _subclasses(cls: type[TaxmatchError]) -> list[type[TaxmatchError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_error_code_is_used_by_one_class() -> None:
    for module in pkgutil.walk_packages(taxmatch.__path__, "taxmatch."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    owners: dict[str, list[str]] = {}
    for cls in {TaxmatchError, *_subclasses(TaxmatchError)}:
        if "code" in vars(cls):  # a subclass that inherits its code is the same kind
            owners.setdefault(cls.code, []).append(cls.__qualname__)
    shared = {code: sorted(names) for code, names in owners.items() if len(names) > 1}
    assert shared == {}
