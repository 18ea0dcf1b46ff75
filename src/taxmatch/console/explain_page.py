"""The explanation page and waterfall chart of ``taxmatch explain``, and writing them.

A self-contained HTML page (inline CSS and SVG; no JavaScript, no external URL, so it
opens offline) and the chart as an SVG file. For the custodian's disclosure officer:
candidates' names and addresses as filed may be shown; TINs are masked and the keyed
person hash is cut to a prefix.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from taxmatch.console.charts import waterfall_chart
from taxmatch.errors import StoreError
from taxmatch.owner_only import make_dir, write_private_text
from taxmatch.pipeline.explain import (
    Candidate,
    ExplainedDecision,
    explained_decision,
    safe_name,
)

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

_CSS = """
body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-family:monospace}
.note{background:#fff6d6;border:1px solid #e0c060;padding:.5em 1em}
.decided{background:#eef6ee}.meta td:first-child{font-weight:bold}
.pos{color:#2b7a3d}.neg{color:#b03a2e}svg{max-width:100%;height:auto}
"""


def logit_bits(p: float) -> float:
    """log2(p / (1 - p)): the match weight a probability corresponds to."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log2(p / (1.0 - p))


def render_waterfall(decided: ExplainedDecision, *, inline: bool = False) -> str:
    """The best person's match weight as a waterfall (SVG, ``console.charts``)."""
    candidates = decided.explanation.candidates
    if not candidates:
        text = "No candidate person reached the matcher's floor"
        return str(waterfall_chart(text, [], inline=inline))
    best = candidates[0]
    steps = [(s.name.replace(" (term frequency)", " (tf adj.)"), s.bits) for s in best.steps]
    title = (
        f"Best candidate (rank 1): match weight {best.match_weight:.2f} bits, "
        f"probability {best.probability:.10f}"
    )
    return str(waterfall_chart(title, steps, inline=inline))


def render_html(decided: ExplainedDecision) -> str:
    """The page: decision, waterfall (chart and numbers), candidate table."""
    d, ex, batch = decided.decision, decided.explanation, decided.batch
    e = html.escape
    title = f"taxmatch explain: batch {batch.batch_id}, request {d.request_id}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<p class='note'>For the custodian's disclosure officer only. Never part of the "
        "requester's package. TINs are masked; person keys are shown as a prefix.</p>",
        "<h2>Decision (state store)</h2><table class='meta'>",
        _meta_rows(decided),
        "</table>",
    ]
    if ex.decision_inputs:
        parts.append("<h2>What the decision rule was told</h2><table class='meta'>")
        parts += [f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in ex.decision_inputs]
        parts.append("</table>")
    if not decided.rescored_agrees:
        parts.append(
            "<p class='note'>The re-scored best candidate does not reproduce the stored "
            "score: the model or reference may have changed since the batch ran.</p>"
        )
    parts.append("<h2>Waterfall: match weight of the best candidate</h2>")
    if ex.candidates:
        parts.append(f"<p>{render_waterfall(decided, inline=True)}</p>")
        parts.append(_steps_table(ex.candidates[0]))
    else:
        parts.append("<p>No candidate person reached the matcher's candidate floor.</p>")
    parts.append(_candidates_table(decided))
    parts.append("</body></html>\n")
    return "".join(parts)


def _meta_rows(decided: ExplainedDecision) -> str:
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
    e = html.escape
    return "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows)


def _steps_table(best: Candidate) -> str:
    e = html.escape
    rows = [
        "<table><tr><th>step</th><th>comparison level</th><th>bits</th><th>running total</th></tr>"
    ]
    running = 0.0
    for step in best.steps:
        running += step.bits
        cls = "pos" if step.bits > 0 else ("neg" if step.bits < 0 else "")
        rows.append(
            f"<tr><td>{e(step.name)}</td><td>{e(step.label)}</td>"
            f"<td class='num {cls}'>{step.bits:+.4f}</td>"
            f"<td class='num'>{running:.4f}</td></tr>"
        )
    rows.append(
        f"<tr><th>total</th><th>probability {best.probability:.12f}</th>"
        f"<th class='num'>{best.match_weight:.6f}</th><th></th></tr></table>"
    )
    return "".join(rows)


# The candidate table's fixed columns (heading, cell); a column per comparison follows.
_CANDIDATE_COLUMNS: tuple[tuple[str, Callable[[Candidate], str]], ...] = (
    ("rank", lambda c: str(c.rank) + (" (decided)" if c.decided else "")),
    ("match weight", lambda c: f"{c.match_weight:.4f}"),
    ("probability", lambda c: f"{c.probability:.10f}"),
    ("margin to best (bits)", lambda c: f"{c.margin:.4f}"),
    ("person key", lambda c: f"{c.person_key_prefix}…" if c.person_key_prefix else ""),
    ("TIN", lambda c: c.tin_masked),
    ("name as filed", lambda c: c.name),
    ("date of birth", lambda c: c.date_of_birth.isoformat() if c.date_of_birth else ""),
    ("address as filed", lambda c: c.address),
    ("first name agrees", lambda c: "yes" if c.first_name_agrees else "no"),
    ("address corroborates", lambda c: "yes" if c.address_corroborated else "no"),
)


def _candidates_table(decided: ExplainedDecision) -> str:
    ex, e = decided.explanation, html.escape
    if not ex.candidates:
        return ""
    comparisons = [name for name, _ in ex.candidates[0].levels]
    shown = f"top {len(ex.candidates)} of {ex.persons}" if ex.persons else "none"
    rows = [f"<h2>Candidate persons ({e(shown)}, best record each)</h2><table><tr>"]
    rows += [f"<th>{e(h)}</th>" for h in [*(h for h, _ in _CANDIDATE_COLUMNS), *comparisons]]
    rows.append("</tr>")
    for c in ex.candidates:
        cells = [*(cell(c) for _, cell in _CANDIDATE_COLUMNS), *(label for _, label in c.levels)]
        cls = " class='decided'" if c.decided else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{e(x)}</td>" for x in cells) + "</tr>")
    rows.append("</table>")
    return "".join(rows)


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
        write_private_text(svg_path, render_waterfall(decided) + "\n")
        write_private_text(html_path, render_html(decided))
    except OSError as exc:
        raise StoreError(f"{out}: cannot write the explanation ({exc.strerror})") from None
    return ExplainResult(html_path, svg_path, decided)
