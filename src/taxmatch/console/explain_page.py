"""The explanation page and waterfall chart of ``taxmatch explain``, and writing them.

A self-contained HTML page (``templates/explain_page.html``: inline CSS and SVG; no
JavaScript, no external URL, so it opens offline; its explanation is the review page's,
``templates/explanation.html``) and the chart as an SVG file. For the custodian's
disclosure officer: candidates' names and addresses as filed may be shown; TINs are
masked and the keyed person hash is cut to a prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from taxmatch.console.charts import waterfall_chart
from taxmatch.console.templating import TEMPLATES
from taxmatch.errors import StoreError
from taxmatch.owner_only import make_dir, write_private_text
from taxmatch.pipeline.explain import ExplainedDecision, explained_decision, safe_name

_OUTCOME_MEANING = {
    "DISCLOSED": "one person, confidently; name and address corroborated; a recent filing "
    "in the requested periods",
    "AMBIGUOUS": "another person is within the margin of the best, or a suffix on file "
    "(JR, SR, III) is not confirmed by the date of birth",
    "NO_MATCH": "no person reached the review threshold, or the first name or the "
    "requester's address does not agree, or a date of birth or suffix conflicts",
    "REVIEW": "below the disclosure threshold, or the filed address cannot be delivered",
    "INELIGIBLE": "the person may not be disclosed about (deceased or held)",
    "NO_FILING_IN_PERIOD": "no filing within the requested tax periods",
    "STALE": "the latest filed address is older than the policy allows",
}


def logit_bits(p: float) -> float:
    """log2(p / (1 - p)): the match weight a probability corresponds to."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log2(p / (1.0 - p))


def waterfall(decided: ExplainedDecision, *, inline: bool = False) -> Markup:
    """The best person's match weight as a waterfall (SVG, ``console.charts``)."""
    candidates = decided.explanation.candidates
    if not candidates:
        return waterfall_chart("No candidate person reached the matcher's floor", [], inline=inline)
    best = candidates[0]
    steps = [(s.name.replace(" (term frequency)", " (tf adj.)"), s.bits) for s in best.steps]
    title = (
        f"Best candidate (rank 1): match weight {best.match_weight:.2f} bits, "
        f"probability {best.probability:.10f}"
    )
    return waterfall_chart(title, steps, inline=inline)


def render_html(decided: ExplainedDecision) -> str:
    """The page (``templates/explain_page.html``): decision, waterfall (chart and
    numbers), candidate table."""
    title = (
        f"taxmatch explain: batch {decided.batch.batch_id}, request {decided.decision.request_id}"
    )
    page = TEMPLATES.get_template("explain_page.html").render(
        title=title, meta=_meta_rows(decided), ex=decided, waterfall=waterfall(decided, inline=True)
    )
    return page + "\n"


def _meta_rows(decided: ExplainedDecision) -> list[tuple[str, str]]:
    d, batch, t = decided.decision, decided.batch, decided.thresholds
    outcome = d.outcome or d.disposition.upper()
    rows = [
        ("batch", batch.batch_id),
        ("request id", d.request_id),
        ("row number", str(d.row_number)),
        ("outcome", outcome),
        ("reason", _OUTCOME_MEANING.get(outcome, "")),
        ("reason codes", d.reason_codes or "none"),
        ("disposition", d.disposition),
        ("stored score (probability)", "" if d.score is None else f"{d.score:.12f}"),
        ("stored score (bits)", "" if d.score is None else f"{logit_bits(d.score):.6f}"),
        ("person key (prefix)", (d.person_key or "")[:8] + ("…" if d.person_key else "")),
        ("as of", batch.as_of.isoformat()),
        ("matcher", batch.matcher),
        ("model", f"{decided.model_version} (sha256 {decided.model_sha256[:16]}…)"),
        ("reference snapshot", batch.reference_id),
        ("policy", f"{batch.policy_version} (sha256 {batch.policy_sha256[:16]}…)"),
    ]
    if t is not None:
        rows += [
            ("review threshold", f"{t.review_threshold}"),
            ("disclose threshold", f"{t.disclose_threshold}"),
            ("min margin (bits)", f"{t.min_margin_log2}"),
        ]
    else:
        rows.append(("thresholds", "the batch ran under another policy file (pass --policy)"))
    return rows


@dataclass(frozen=True, slots=True)
class ExplainResult:
    html: Path
    svg: Path
    decided: ExplainedDecision


def write_explanation(
    store: Path,
    batch_id: str,
    request_id: str,
    *,
    out: Path,
    top: int = 5,
    policy: Path | None = None,
    database_url: str | None = None,
) -> ExplainResult:
    """Write ``explain-<batch>-<request>.html`` and ``.svg`` into ``out`` (refused inside
    the batch's package directory, before any work)."""
    decided = explained_decision(
        store, batch_id, request_id, top=top, policy=policy, database_url=database_url, out=out
    )
    stem = f"explain-{safe_name(batch_id)}-{safe_name(request_id)}"
    try:
        make_dir(out, own=False)
        html_path, svg_path = out / f"{stem}.html", out / f"{stem}.svg"
        write_private_text(svg_path, f"{waterfall(decided)}\n")
        write_private_text(html_path, render_html(decided))
    except OSError as exc:
        raise StoreError(f"{out}: cannot write the explanation ({exc.strerror})") from None
    return ExplainResult(html_path, svg_path, decided)
