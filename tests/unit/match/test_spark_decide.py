"""What a Spark task of the engine says when it fails (``taxmatch.match.spark_decide``):
Spark logs a task's error on the executor, so it must carry no value."""

from __future__ import annotations

import pyarrow as pa
import pytest

from taxmatch.match.spark_decide import CODE_MISMATCH, code_digest, judge_batches, rank_batches


def test_a_task_on_other_code_says_so_and_nothing_else() -> None:
    with pytest.raises(RuntimeError) as caught:
        list(rank_batches(iter([]), 0.98, 1.0, digest="0" * 64))
    assert str(caught.value) == CODE_MISMATCH
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_failing_task_names_only_the_errors_type() -> None:
    """A row the judging cannot read fails the task with the error's type alone, not the
    value the error was about."""
    row = pa.record_batch({"row_number": [1], "first_name": ["ZEDEKIAH"]})
    with pytest.raises(RuntimeError) as caught:
        list(judge_batches(iter([row]), digest=code_digest()))
    text = str(caught.value)
    assert text.startswith("taxmatch task failed (")
    assert "ZEDEKIAH" not in text
    assert caught.value.__suppress_context__
