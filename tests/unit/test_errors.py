"""Every error class that sets a code has one of its own: a code names one kind of failure;
DuckDB running out of memory is told as advice."""

from __future__ import annotations

import importlib
import pkgutil

import duckdb
import pytest

import taxmatch
from taxmatch.errors import BadArgument, OutOfMemory, TaxmatchError, memory_advice, memory_size


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


def _run_out_of_memory() -> None:
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit='20MB'")
        con.execute("SET temp_directory=''")  # nowhere to spill
        con.execute("SELECT count(DISTINCT i::VARCHAR || 'x') FROM range(20000000) t(i)")
    finally:
        con.close()


def test_duckdb_out_of_memory_becomes_advice() -> None:
    with pytest.raises(OutOfMemory) as caught, memory_advice("batch run", "20MB", "--memory-limit"):
        _run_out_of_memory()
    assert caught.value.code == "TM900"
    assert "batch run" in str(caught.value)
    assert "--memory-limit" in str(caught.value)
    assert caught.value.__cause__ is None  # DuckDB's text is not carried along


def test_out_of_memory_wrapped_by_a_library_becomes_advice() -> None:
    class LibraryError(Exception):
        pass

    def wrapped() -> None:
        try:
            _run_out_of_memory()
        except duckdb.Error as exc:
            raise LibraryError("the SQL that failed") from exc

    with pytest.raises(OutOfMemory), memory_advice("model train", "20MB", "--memory-limit"):
        wrapped()


def test_other_errors_pass_through_memory_advice() -> None:
    con = duckdb.connect()
    advice = memory_advice("batch run", "1GB", "--memory-limit")
    with pytest.raises(duckdb.CatalogException), advice:
        con.execute("SELECT * FROM no_such_table")


@pytest.mark.parametrize("size", ["2GB", "512MB", "1.5 GiB", "100kb"])
def test_memory_sizes_duckdb_reads(size: str) -> None:
    assert memory_size(size) == size


@pytest.mark.parametrize("size", ["", "2", "lots", "2GB; DROP TABLE x", "-1GB"])
def test_other_memory_sizes_are_refused(size: str) -> None:
    with pytest.raises(BadArgument):
        memory_size(size)
