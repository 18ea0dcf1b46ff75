"""``taxmatch explain`` on the cast: the waterfall adds up to the stored score, the
candidate table ranks the decided person first, the page keeps TINs masked and offline,
and every decision it cannot explain is one clear error naming ids only."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxmatch.cli import main
from taxmatch.console.explain_page import write_explanation
from taxmatch.errors import BatchNotFound, NotExplainable, RequestNotFound, StoreError
from taxmatch.files.inputs import load_policy
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.explain import ExplainedDecision
from taxmatch.policy.model import Policy

from .conftest import AS_OF, CARTER, PEOPLE, request_row, write_envelope, write_requests

SVG_START = b"<svg xmlns="
ROWS = {
    "REQ-00001": {},  # Maria, disclosed
    "REQ-00002": CARTER,  # Jr/Sr at one address, neither suffix nor date of birth: AMBIGUOUS
    "REQ-00003": {"first_name": ""},  # rejected at validation (R01)
    "REQ-00004": {
        "first_name": "Nobody",
        "last_name": "Known",
        "street_address": "1 Front St",
        "unit": "",
        "city": "Nome",
        "state": "AK",
        "zip": "99762",
    },  # nobody near
    # Alan at his 2024 address, where Joan files too: Joan is a weaker candidate.
    "REQ-00005": {
        "first_name": "Alan",
        "last_name": "Turing",
        "street_address": "8003 W Farwell Ave",
        "unit": "",
        "city": "Chicago",
        "state": "IL",
        "zip": "60626",
    },
    # First and last name swapped on the request: the matcher agrees on the first name.
    "REQ-00006": {
        "first_name": "Nguyen",
        "last_name": "Anh",
        "street_address": "9 Elm St",
        "unit": "",
        "city": "Houston",
        "state": "TX",
        "zip": "77002",
    },
    # JIHN, a keystroke from JOHN and nobody's name, at John Carter Jr's door: his.
    "REQ-00007": {**CARTER, "first_name": "Jihn", "suffix": "Jr"},
}


@dataclass(frozen=True)
class Batch:
    store: Path
    batch_id: str
    package: Path
    url: str


def _run(store: Path, tmp: Path, *, matcher: str = "probabilistic", letter: str) -> Batch:
    rows = [request_row(int(rid[-5:]), **changes) for rid, changes in ROWS.items()]
    url = f"sqlite:///{tmp / 'state.sqlite3'}"
    result = run_batch(
        BatchRequest(
            store=store,
            requests=write_requests(tmp / "r.csv", rows),
            envelope=write_envelope(tmp / "e.json", request_letter_id=letter),
            out=tmp / "out",
            as_of=AS_OF,
            matcher=matcher,
            database_url=url,
        )
    )
    return Batch(store, result.batch_id, result.package, url)


@pytest.fixture(scope="module")
def batch(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return _run(model_store, tmp_path_factory.mktemp("explain"), letter="LTR-EXPLAIN-1")


def _explain(
    b: Batch, request_id: str, out: Path, top: int = 5
) -> tuple[str, bytes, ExplainedDecision]:
    res = write_explanation(b.store, b.batch_id, request_id, out=out, top=top, database_url=b.url)
    assert res.html == out / f"explain-{b.batch_id}-{request_id}.html"
    assert res.svg == out / f"explain-{b.batch_id}-{request_id}.svg"
    return res.html.read_text(encoding="utf-8"), res.svg.read_bytes(), res.decided


def _policy() -> Policy:
    return load_policy(None)[0]


def test_disclosed_waterfall_adds_up_to_the_stored_score(batch: Batch, tmp_path: Path) -> None:
    page, svg, decided = _explain(batch, "REQ-00001", tmp_path)
    assert svg.startswith(SVG_START)
    assert decided.decision.outcome == "DISCLOSED"
    ex = decided.explanation
    best = ex.candidates[0]
    # The bars sum to the best person's match weight ...
    assert math.isclose(sum(s.bits for s in best.steps), best.match_weight, abs_tol=1e-9)
    assert best.steps[0].name == "prior"
    assert svg.count(b"<rect") == len(best.steps) + 1  # one bar per step, then the total
    assert {s.name for s in best.steps} >= {"first_name", "last_name", "tin", "city", "zip"}
    # ... which is the stored decision score as log2 odds.
    score = decided.decision.score
    assert score is not None
    assert abs(best.match_weight - math.log2(score / (1 - score))) < 1e-6
    assert decided.rescored_agrees
    # The decided person is ranked first, and the page says so.
    assert best.rank == 1
    assert best.decided
    assert best.name == "MARIA ELENA GARCIA LOPEZ"
    assert best.first_name_agrees
    assert best.address_corroborated
    assert "DISCLOSED" in page
    assert "1 (decided)" in page


def test_page_is_offline_and_masks_tins(batch: Batch, tmp_path: Path) -> None:
    page, _, decided = _explain(batch, "REQ-00002", tmp_path)
    assert "<script" not in page.lower()
    assert "http://" not in page
    assert "https://" not in page
    assert "<svg " in page  # the waterfall, inline
    for tin, *_ in PEOPLE:
        assert tin not in page
    assert "***-**-6789" in page
    # The keyed person hash is shown as a prefix only.
    key = decided.decision.person_key
    assert key
    assert key[:8] in page
    assert key not in page


def test_swapped_names_explained_with_the_checks_the_decision_ran(
    batch: Batch, tmp_path: Path
) -> None:
    """Regression: explain once had its own copy of the first-name check without the
    swapped-name clause, so a swapped request was DISCLOSED while explain showed
    ``first_name_agrees=False`` for the decided person."""
    _, _, decided = _explain(batch, "REQ-00006", tmp_path)
    assert decided.decision.outcome == "DISCLOSED"
    best = decided.explanation.candidates[0]
    assert best.decided
    assert best.first_name_agrees
    assert best.address_corroborated


def test_a_misspelt_first_name_the_decision_took_agrees_in_explain_too(
    batch: Batch, tmp_path: Path
) -> None:
    """Explain reads the names the request's first name is a misspelling of as the batch
    did (``normalise.typos.fixes`` on the snapshot's first-name shares)."""
    _, _, decided = _explain(batch, "REQ-00007", tmp_path)
    assert decided.decision.outcome == "DISCLOSED"
    best = decided.explanation.candidates[0]
    assert best.decided
    assert best.first_name_agrees


def test_explain_reports_the_checks_the_decision_ran_on_every_row(
    batch: Batch, tmp_path: Path
) -> None:
    """For every matched row of the batch, the best candidate's checks are the ones the
    decision rule read (the workspace's ``outcomes`` row)."""
    compared = 0
    for request_id in ROWS:
        try:
            _, _, decided = _explain(batch, request_id, tmp_path)
        except NotExplainable:
            continue  # rejected at validation: never reached the matcher
        inputs = dict(decided.explanation.decision_inputs)
        if not decided.explanation.candidates:
            assert inputs["first_name_agrees"] == "False"
            continue
        best = decided.explanation.candidates[0]
        assert str(best.first_name_agrees) == inputs["first_name_agrees"], request_id
        assert str(best.address_corroborated) == inputs["address_corroborated"], request_id
        compared += 1
    assert compared >= 4


def test_jr_sr_ambiguous_shows_both_within_the_margin(batch: Batch, tmp_path: Path) -> None:
    page, _, decided = _explain(batch, "REQ-00002", tmp_path)
    assert decided.decision.outcome == "AMBIGUOUS"
    cands = decided.explanation.candidates
    assert len(cands) == 2
    assert {c.name for c in cands} == {"JOHN CARTER SR", "JOHN CARTER JR"}
    assert cands[1].margin < _policy().matching.min_margin_log2
    assert dict(cands[0].levels)["suffix"] == "not given on one side"
    assert "JOHN CARTER JR" in page
    assert "JOHN CARTER SR" in page


def test_candidates_ranked_by_weight_decided_person_first(batch: Batch, tmp_path: Path) -> None:
    page, _, decided = _explain(batch, "REQ-00005", tmp_path)
    assert decided.decision.outcome == "DISCLOSED"
    cands = decided.explanation.candidates
    assert [c.name for c in cands[:2]] == ["ALAN TURING", "JOAN CLARKE"]
    assert cands[0].decided
    assert not cands[1].decided
    weights = [c.match_weight for c in cands]
    assert weights == sorted(weights, reverse=True)
    assert cands[1].margin == pytest.approx(weights[0] - weights[1])
    assert cands[1].margin >= _policy().matching.min_margin_log2
    assert not cands[1].first_name_agrees
    assert cands[1].address_corroborated
    assert page.index("ALAN TURING") < page.index("JOAN CLARKE")


def test_top_limits_the_candidate_table(batch: Batch, tmp_path: Path) -> None:
    _, _, decided = _explain(batch, "REQ-00002", tmp_path, top=1)
    ex = decided.explanation
    assert len(ex.candidates) == 1
    assert ex.persons == 2


def test_no_candidate_still_explains(batch: Batch, tmp_path: Path) -> None:
    page, svg, decided = _explain(batch, "REQ-00004", tmp_path)
    assert decided.decision.outcome == "NO_MATCH"
    assert decided.explanation.candidates == ()
    assert svg.startswith(SVG_START)
    assert "No candidate person" in page


def test_rejected_row_never_reached_matching(batch: Batch, tmp_path: Path) -> None:
    with pytest.raises(NotExplainable, match=r"REQ-00003.*never reached matching.*R01"):
        write_explanation(
            batch.store, batch.batch_id, "REQ-00003", out=tmp_path, database_url=batch.url
        )
    assert list(tmp_path.iterdir()) == []


def test_unknown_request_and_batch(batch: Batch, tmp_path: Path) -> None:
    with pytest.raises(RequestNotFound, match="REQ-99999"):
        write_explanation(
            batch.store, batch.batch_id, "REQ-99999", out=tmp_path, database_url=batch.url
        )
    with pytest.raises(BatchNotFound, match="Bnope"):
        write_explanation(batch.store, "Bnope", "REQ-00001", out=tmp_path, database_url=batch.url)


def test_never_writes_into_the_package(batch: Batch) -> None:
    with pytest.raises(StoreError, match="package"):
        write_explanation(
            batch.store,
            batch.batch_id,
            "REQ-00001",
            out=batch.package / "x",
            database_url=batch.url,
        )
    assert not (batch.package / "x").exists()


def test_exact_matcher_has_no_model_to_explain(model_store: Path, tmp_path: Path) -> None:
    b = _run(model_store, tmp_path, matcher="exact", letter="LTR-EXPLAIN-EXACT")
    with pytest.raises(NotExplainable, match="exact matcher"):
        write_explanation(b.store, b.batch_id, "REQ-00001", out=tmp_path / "x", database_url=b.url)


@contextmanager
def _moved_away(path: Path) -> Iterator[None]:
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    try:
        yield
    finally:
        aside.rename(path)


def test_missing_workspace_model_or_snapshot(model_store: Path, tmp_path: Path) -> None:
    b = _run(model_store, tmp_path, letter="LTR-EXPLAIN-GONE")
    snapshot = (model_store / "reference" / "CURRENT").read_text(encoding="utf-8").strip()
    gone = [
        (model_store / "models" / snapshot / "model.json", "no model trained"),
        (model_store / "reference" / f"{snapshot}.duckdb", "no longer present"),
    ]
    for path, message in gone:
        with _moved_away(path), pytest.raises(Exception, match=message) as info:
            write_explanation(
                b.store, b.batch_id, "REQ-00001", out=tmp_path / "x", database_url=b.url
            )
        assert getattr(info.value, "code", None) in ("TM200", "TM300")
    shutil.rmtree(model_store / "work" / b.batch_id)
    with pytest.raises(StoreError, match="workspace is no longer present"):
        write_explanation(b.store, b.batch_id, "REQ-00001", out=tmp_path / "x", database_url=b.url)


def test_cli_writes_both_files_and_errors_are_one_line(
    batch: Batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAXMATCH_DATABASE_URL", batch.url)
    from taxmatch.cli.common import get_settings

    get_settings.cache_clear()
    try:
        base = ["explain", "--store", str(batch.store), "--batch", batch.batch_id]
        monkeypatch.chdir(tmp_path)  # the default --out is the current directory
        ok = CliRunner().invoke(main, [*base, "--request", "REQ-00001"])
        assert ok.exit_code == 0, ok.output
        assert (tmp_path / f"explain-{batch.batch_id}-REQ-00001.html").exists()
        assert (tmp_path / f"explain-{batch.batch_id}-REQ-00001.svg").exists()
        bad = CliRunner().invoke(main, [*base, "--request", "REQ-00003"])
        assert bad.exit_code == NotExplainable.exit_status
        assert len(bad.output.strip().splitlines()) == 1
        assert "TM600" in bad.output
        assert "MARIA" not in bad.output.upper()
    finally:
        get_settings.cache_clear()


def test_no_value_reaches_the_logs(
    batch: Batch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    _explain(batch, "REQ-00005", tmp_path)
    with pytest.raises(NotExplainable) as info:
        write_explanation(
            batch.store, batch.batch_id, "REQ-00003", out=tmp_path, database_url=batch.url
        )
    text = caplog.text.upper() + str(info.value).upper()
    for value in ("TURING", "CLARKE", "FARWELL", "143456789", "153456789", "GARCIA", "MARIA"):
        assert value not in text
