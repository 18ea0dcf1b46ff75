"""Console pages. Each handler reads or does one thing through ``taxmatch.pipeline`` and
renders a template; the safety checks are ``taxmatch.console.app``'s.
"""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from taxmatch.console.app import (
    COOKIE,
    CurrentOfficer,
    Settings,
    actor,
    attachment,
    audit_view,
    origin_of,
    redirect,
    render,
    require,
)
from taxmatch.console.charts import coverage_chart
from taxmatch.contracts import REASON_DESCRIPTIONS
from taxmatch.disclose.package import read_summary
from taxmatch.errors import BatchNotFound, PackageError, TaxmatchError
from taxmatch.pipeline import console_reads as cs
from taxmatch.pipeline import review as rv
from taxmatch.pipeline.batch_coverage import coverage_csv, coverage_in
from taxmatch.pipeline.edge_audit import taxpayer_object_id, typed_tin
from taxmatch.pipeline.officers import log_in, log_out
from taxmatch.pipeline.rules import policy_in_force

router = APIRouter()
PAGE = 50
LOGIN_FAILED = "Unknown username or wrong password."
# Row numbers and ledger sequence numbers are 64-bit integers in the state database: a
# larger number in a URL is refused (422) before it reaches a query (it cannot exist).
MAX_ID = 2**63 - 1
RowNumber = Annotated[int, Path(ge=1, le=MAX_ID)]
_AFTER = re.compile(r"^(.+):([0-9]{1,18})$")
_STATIC = {"htmx.min.js": "text/javascript", "console.css": "text/css"}
_STATIC_DIR = FilePath(__file__).parent / "static"


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in _STATIC:
        return Response(status_code=404)
    return FileResponse(_STATIC_DIR / name, media_type=_STATIC[name])


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", error="")


@router.post("/login", response_model=None)
def login(
    request: Request,
    settings: Settings,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    policy, _ = policy_in_force(settings.policy)
    result = log_in(
        settings.state(),
        username.strip()[:64],
        password[:1024],
        origin=origin_of(request),
        rules=policy.console,
    )
    if not result.ok or result.token is None:
        # One answer for every failure (unknown name, wrong password, locked account).
        return render(request, "login.html", 401, error=LOGIN_FAILED)
    response = redirect(request, "/")
    response.set_cookie(
        COOKIE,
        result.token,
        max_age=8 * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookie,
        path=request.scope.get("root_path", "") or "/",
    )
    return response


@router.post("/logout")
def logout(request: Request, settings: Settings, officer: CurrentOfficer) -> Response:
    log_out(
        settings.state(),
        request.cookies.get(COOKIE, ""),
        officer.username,
        origin=origin_of(request),
    )
    response = redirect(request, "/login")
    response.delete_cookie(COOKIE, path=request.scope.get("root_path", "") or "/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, settings: Settings, officer: CurrentOfficer) -> HTMLResponse:
    batches = settings.state().list_batches()[-10:][::-1]
    return render(request, "home.html", officer=officer, batches=batches)


def _after(value: str | None) -> tuple[str, int] | None:
    """The queue's keyset cursor ``<batch_id>:<row>``; anything else starts from the top."""
    found = _AFTER.match(value or "")
    return None if found is None else (found.group(1), int(found.group(2)))


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    settings: Settings,
    officer: CurrentOfficer,
    after: str | None = None,
    fragment: bool = False,
) -> HTMLResponse:
    items = cs.queue_page(settings.state(), _after(after), PAGE + 1)
    more = len(items) > PAGE
    nxt = f"{items[PAGE - 1].batch_id}:{items[PAGE - 1].row_number}" if more else None
    name = "queue_rows.html" if fragment else "queue.html"
    return render(request, name, officer=officer, items=items[:PAGE], next=nxt)


@router.get("/review/{batch_id}/{row_number}", response_class=HTMLResponse)
def review_page(
    request: Request,
    settings: Settings,
    officer: CurrentOfficer,
    batch_id: str,
    row_number: RowNumber,
) -> HTMLResponse:
    state = settings.state()
    decision = cs.find_decision(state, batch_id, row_number)
    batch = state.find_batch(batch_id)
    if decision is None or batch is None:
        raise BatchNotFound(f"batch {batch_id} has no row {row_number}")
    audit_view(request, officer, "review", f"{batch_id}#{row_number}")
    explained, problem = None, ""
    try:
        from taxmatch.pipeline.explain import explained_decision

        explained = explained_decision(
            settings.store,
            batch_id,
            decision.request_id,
            policy=settings.policy,
            decision=decision,
            database_url=settings.database_url,
        )
    except TaxmatchError as exc:
        problem = str(exc)
    done = cs.find_review(state, batch_id, row_number)
    try:
        asked = rv.request_shown(settings.store, batch_id, row_number)
    except TaxmatchError:
        asked = None
    return render(
        request,
        "review.html",
        officer=officer,
        batch=batch,
        d=decision,
        ex=explained,
        problem=problem,
        asked=asked,
        done=done,
        can_decide=officer.role in rv.DECIDERS
        and done is None
        and decision.outcome in cs.QUEUE_OUTCOMES,
    )


@router.post("/review/{batch_id}/{row_number}")
def decide(
    request: Request,
    settings: Settings,
    officer: CurrentOfficer,
    batch_id: str,
    row_number: RowNumber,
    action: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    rv.decide_row(
        settings.state(), batch_id, row_number, action, reason[:2000], actor(request, officer)
    )
    return redirect(request, "/queue")


@router.get("/batches", response_class=HTMLResponse)
def batches(request: Request, settings: Settings, officer: CurrentOfficer) -> HTMLResponse:
    rows = settings.state().list_batches()[::-1]
    return render(request, "batches.html", officer=officer, batches=rows)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(
    request: Request, settings: Settings, officer: CurrentOfficer, batch_id: str
) -> HTMLResponse:
    state = settings.state()
    batch = state.require_batch(batch_id)
    accuracy, hold, coverage = None, None, None
    try:
        summary = read_summary(FilePath(batch.package_dir))
        reasons = {str(k): int(v) for k, v in dict(summary.get("reason_codes", {})).items()}
        accuracy, hold = summary.get("accuracy_estimate"), summary.get("accuracy_hold")
        coverage = coverage_in(summary)
    except (PackageError, TypeError, ValueError):
        reasons = {}
    policy, sha = policy_in_force(settings.policy)
    return render(
        request,
        "batch.html",
        officer=officer,
        batch=batch,
        reasons=reasons,
        accuracy=accuracy,
        hold=hold,
        coverage=coverage,
        coverage_chart=None if coverage is None else coverage_chart(coverage, inline=True),
        descriptions={k.value: v for k, v in REASON_DESCRIPTIONS.items()},
        open_reviews=cs.unreleased_reviews(state, batch_id),
        releases=cs.list_releases(state, batch_id),
        second=rv.second_person_needed(batch, policy, sha),
        can_prepare=officer.role in rv.DECIDERS,
    )


@router.get("/batches/{batch_id}/coverage.csv")
def batch_coverage_csv(settings: Settings, officer: CurrentOfficer, batch_id: str) -> Response:
    """The batch's coverage by group as CSV (``CSV_COLUMNS``, a row per group); 404 when
    the batch is unknown or its package has no coverage (not done, or written before)."""
    batch = settings.state().require_batch(batch_id)
    try:
        coverage = coverage_in(read_summary(FilePath(batch.package_dir)))
    except (PackageError, TypeError, ValueError):
        coverage = None
    if coverage is None:
        raise HTTPException(404)
    return attachment(coverage_csv(coverage), "text/csv", f"coverage-{batch.batch_id}.csv")


@router.post("/batches/{batch_id}/release")
def prepare(
    request: Request, settings: Settings, officer: CurrentOfficer, batch_id: str
) -> Response:
    policy, sha = policy_in_force(settings.policy)
    rv.prepare_release(
        settings.store, settings.state(), batch_id, actor(request, officer), policy, sha
    )
    return redirect(request, f"/batches/{batch_id}")


@router.post("/releases/{release_id}/approve")
def approve(
    request: Request, settings: Settings, officer: CurrentOfficer, release_id: str
) -> Response:
    policy, _ = policy_in_force(settings.policy)
    release = rv.approve_release(
        settings.store, settings.state(), release_id, actor(request, officer), policy
    )
    return redirect(request, f"/batches/{release.batch_id}")


@router.get("/ledger", response_class=HTMLResponse)
def ledger(
    request: Request,
    settings: Settings,
    officer: CurrentOfficer,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    state = settings.state()
    entries = cs.ledger_page(state, before, PAGE)
    seq, head = state.ledger_head()
    older = entries[-1].seq if entries and entries[-1].seq > 1 else None
    return render(
        request, "ledger.html", officer=officer, entries=entries, head=head, seq=seq, older=older
    )


@router.get("/ledger/verify", response_class=HTMLResponse)
def ledger_verify(request: Request, settings: Settings, officer: CurrentOfficer) -> HTMLResponse:
    """Verify the whole ledger (supervisors and auditors): one run at a time, as it reads
    every entry and decision row; a second request meanwhile is answered 409."""
    require(officer, "supervisor", "auditor")
    if not settings.verifying.acquire(blocking=False):
        return render(request, "ledger_verify.html", 409, officer=officer, result=None)
    try:
        result = settings.state().verify_ledger()
    finally:
        settings.verifying.release()
    return render(request, "ledger_verify.html", officer=officer, result=result)


@router.get("/accounting", response_class=HTMLResponse)
def accounting_form(request: Request, officer: CurrentOfficer) -> HTMLResponse:
    require(officer, "supervisor", "auditor")
    return render(request, "accounting.html", officer=officer, records=None, error="")


@router.post("/accounting", response_class=HTMLResponse)
def accounting(
    request: Request, settings: Settings, officer: CurrentOfficer, tin: Annotated[str, Form()] = ""
) -> HTMLResponse:
    require(officer, "supervisor", "auditor")
    clean = typed_tin(tin)
    if clean is None:
        return render(
            request,
            "accounting.html",
            400,
            officer=officer,
            records=None,
            error="A TIN is 9 digits (dashes allowed).",
        )
    state = settings.state()
    audit_view(request, officer, "accounting", taxpayer_object_id(state, clean))
    records = cs.disclosures_about(state, clean)
    return render(request, "accounting.html", officer=officer, records=records, error="")
