"""What every command shares: the settings from the environment (read only here, at the
edge, and injected below), turning library errors into one line and an exit status
(``edge``), the ``--store`` option and the store it names, and the options of more than
one command."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from functools import lru_cache, wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from pydantic_settings import BaseSettings, SettingsConfigDict

from taxmatch.errors import TaxmatchError

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAXMATCH_", extra="ignore")

    store: Path = Path("taxmatch-data")
    database_url: str | None = None
    debug: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def edge(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn library errors into one line on stderr and the error's exit status."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except TaxmatchError as exc:
            click.echo(f"taxmatch: error {exc}", err=True)
            sys.exit(exc.exit_status)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:  # never show locals or values: they may be people's data
            if get_settings().debug:
                raise
            click.echo(
                f"taxmatch: internal error TM999 ({type(exc).__name__}); "
                "rerun with TAXMATCH_DEBUG=1 for a traceback",
                err=True,
            )
            sys.exit(70)

    return wrapper


def store_command(
    group: click.Group | None, name: str, *arguments: str
) -> Callable[[Callable[..., None]], click.Command]:
    """The command ``name`` (of ``group``, or top-level) taking ``--store`` first, then
    ``arguments``, its library errors turned into an exit status by ``edge``."""

    def decorate(fn: Callable[..., None]) -> click.Command:
        fn = edge(fn)
        for argument in reversed(arguments):
            fn = click.argument(argument)(fn)
        fn = click.option(
            "--store",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Store directory (env TAXMATCH_STORE, default ./taxmatch-data).",
        )(fn)
        return (click.command if group is None else group.command)(name)(fn)

    return decorate


def new_store(store: Path | None) -> Path:
    """The store for a command that may make it (store init, reference load, demo)."""
    return store if store is not None else get_settings().store


def store_dir(store: Path | None) -> Path:
    """The store for every other command: it must exist (``StoreMissing``, exit 4)."""
    from taxmatch.pipeline.stores import existing_store

    return existing_store(new_store(store), get_settings().database_url)


def _as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("must be an ISO date, YYYY-MM-DD", param_hint="--as-of") from None


def year_range(value: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in value.split("-", 1))
    except ValueError:
        raise click.BadParameter("must look like 2019-2025", param_hint="--years") from None
    if a > b:
        raise click.BadParameter("first year after last year", param_hint="--years")
    return a, b


# Options of more than one command, each parsed once, here: a command receives the value.
as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    callback=_as_of,
    help="Date the batch is judged at (default today).",
)
policy_option = click.option(
    "--policy",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The custodian's policy YAML (default: the packaged policy).",
)
matcher_option = click.option(
    "--matcher",
    type=click.Choice(["probabilistic", "exact"]),
    default="probabilistic",
    show_default=True,
    help="'exact' is the baseline kept for comparison.",
)


def engine_options(what: str) -> Callable[[F], F]:
    """``--engine`` (env ``TAXMATCH_ENGINE``) and ``--spark-dir`` (env
    ``TAXMATCH_SPARK_DIR``), for a command that does ``what`` on the engine chosen."""
    engine = click.option(
        "--engine",
        type=click.Choice(["duckdb", "spark"]),
        default="duckdb",
        envvar="TAXMATCH_ENGINE",
        show_default=True,
        help=f"Where {what}: DuckDB here, or Spark (TAXMATCH_SPARK_MASTER, default "
        "local[*]; docs/spark.md). Env TAXMATCH_ENGINE.",
    )
    spark_dir = click.option(
        "--spark-dir",
        "spark_dir",
        default=None,
        envvar="TAXMATCH_SPARK_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where the Spark engine keeps the reference as Parquet (default STORE/spark; on "
        "a cluster a path the executors share). Env TAXMATCH_SPARK_DIR.",
    )

    def both(command: F) -> F:
        return engine(spark_dir(command))

    return both
