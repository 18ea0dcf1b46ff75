"""``taxmatch agency …``, ``taxmatch serve`` and ``taxmatch worker``: the on-demand service.
``agency token`` prints the new bearer token once; it is stored only as a hash."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from taxmatch.cli.audit import actor_id, origin_id
from taxmatch.cli.common import (
    get_settings,
    matcher_option,
    policy_option,
    store_command,
    store_dir,
)

if TYPE_CHECKING:
    from taxmatch.pipeline.agencies import Admin


def _admin(store: Path | None) -> Admin:
    from taxmatch.pipeline.agencies import Admin

    return Admin(store_dir(store), get_settings().database_url, actor_id(), origin_id())


@click.group()
def agency() -> None:
    """Register requesting agencies, issue and revoke API tokens, suspend and resume."""


@store_command(agency, "add", "name")
@click.option(
    "--daily-rows",
    type=click.IntRange(1),
    default=None,
    help="Rows a day (batches + lookups); default: the serve option.",
)
@click.option("--rate", type=click.IntRange(1), default=None, help="Requests per minute.")
@click.option("--max-upload-mb", type=click.IntRange(1), default=None, help="Largest upload.")
def agency_add(
    store: Path | None,
    name: str,
    daily_rows: int | None,
    rate: int | None,
    max_upload_mb: int | None,
) -> None:
    """Register a requesting agency (NAME is its envelope's requesting_agency)."""
    from taxmatch.pipeline.agencies import add_agency

    size = None if max_upload_mb is None else max_upload_mb * 1024 * 1024
    add_agency(
        _admin(store), name, daily_row_quota=daily_rows, rate_per_minute=rate, max_upload_bytes=size
    )
    click.echo(f"agency {name} added")


@store_command(agency, "token", "name")
def agency_token(store: Path | None, name: str) -> None:
    """Issue a new bearer token; printed once, as the last line, stored only as a hash."""
    from taxmatch.pipeline.agencies import issue_token

    token = issue_token(_admin(store), name)
    click.echo(f"new token for agency {name} (shown once; keep it secret):")
    click.echo(token)


@store_command(agency, "revoke", "name")
def agency_revoke(store: Path | None, name: str) -> None:
    """Revoke every token of the agency: its calls answer 401 from now on."""
    from taxmatch.pipeline.agencies import revoke_tokens

    n = revoke_tokens(_admin(store), name)
    click.echo(f"{n} token(s) of agency {name} revoked")


@store_command(agency, "suspend", "name")
def agency_suspend(store: Path | None, name: str) -> None:
    """Kill switch: calls answer 403, queued batches fail, running ones stop unreleased."""
    from taxmatch.pipeline.agencies import suspend_agency

    n = suspend_agency(_admin(store), name)
    click.echo(f"agency {name} suspended; {n} queued batch(es) failed")


@store_command(agency, "resume", "name")
def agency_resume(store: Path | None, name: str) -> None:
    """Lift a suspension (failed batches can be submitted again)."""
    from taxmatch.pipeline.agencies import resume_agency

    resume_agency(_admin(store), name)
    click.echo(f"agency {name} resumed")


@store_command(None, "serve")
@policy_option
@matcher_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    "worker_threads",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="In-process queue workers (0: use `taxmatch worker`).",
)
@click.option(
    "--daily-rows", type=click.IntRange(1), default=None, help="Default rows a day per agency."
)
@click.option(
    "--rate", type=click.IntRange(1), default=None, help="Default requests per minute per agency."
)
@click.option(
    "--max-upload-mb", type=click.IntRange(1), default=None, help="Default largest upload."
)
@click.option(
    "--warm-lookups/--no-warm-lookups",
    default=True,
    show_default=True,
    help="Keep a warm matcher for single lookups (built in the background at "
    "start-up; its lookup index is built beside the snapshot once).",
)
@click.option(
    "--secure-cookies/--no-secure-cookies",
    default=None,
    help="Send the console's session cookie only over HTTPS (Secure). Default: on "
    "unless bound to a loopback address.",
)
def serve(
    store: Path | None,
    policy: Path | None,
    matcher: str,
    host: str,
    port: int,
    worker_threads: int,
    daily_rows: int | None,
    rate: int | None,
    max_upload_mb: int | None,
    warm_lookups: bool,
    secure_cookies: bool | None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) with an in-process queue worker."""
    from taxmatch.api import ApiSettings, serve_app

    limits = {
        "daily_row_quota": daily_rows,
        "rate_per_minute": rate,
        "max_upload_bytes": None if max_upload_mb is None else max_upload_mb * 1024 * 1024,
    }
    settings = ApiSettings(
        store=store_dir(store),
        database_url=get_settings().database_url,
        policy=policy,
        matcher=matcher,
        worker_threads=worker_threads,
        warm_lookups=warm_lookups,
        **{k: v for k, v in limits.items() if v is not None},  # type: ignore[arg-type]
        secure_cookies=_secure_default(host) if secure_cookies is None else secure_cookies,
    )
    click.echo(f"taxmatch API on http://{host}:{port} (OpenAPI at /docs)")
    serve_app(settings, host=host, port=port)


def _secure_default(host: str) -> bool:
    """Secure cookies unless the server listens on loopback only (a local browser over
    plain HTTP); any other address is reached over a network, behind TLS."""
    import ipaddress

    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: assume it is reached over a network
        return True


@store_command(None, "worker")
@policy_option
@matcher_option
@click.option(
    "--once", is_flag=True, help="Run queued batches until the queue is empty, then exit."
)
def worker(store: Path | None, policy: Path | None, matcher: str, once: bool) -> None:
    """Run queued batches from the state database (more workers beside `taxmatch serve`)."""
    import threading

    from taxmatch.pipeline.stores import ServiceStore
    from taxmatch.pipeline.worker import Worker, WorkerConfig

    root = store_dir(store)
    url = get_settings().database_url
    config = WorkerConfig(
        store=root, out=root / "packages", database_url=url, policy=policy, matcher=matcher
    )
    with ServiceStore.open(root, url) as service:
        w = Worker(config, service)
        if once:
            n = sum(1 for _ in iter(w.run_one, False))
            click.echo(f"{n} batch(es) run")
            return
        click.echo(f"worker {w.owner} waiting for batches (Ctrl-C to stop)")
        try:
            w.run_forever(threading.Event())
        except KeyboardInterrupt:
            click.echo("worker stopped")
