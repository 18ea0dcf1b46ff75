"""``ServiceStore.charge_rows``: one charge of the daily row quota for batches and lookups;
a refused charge records nothing and says when the day starts again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.errors import LimitExceeded
from taxmatch.store.service import ServiceStore, seconds_to_midnight
from taxmatch.store.state import StateStore

DAY = date(2026, 12, 1)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_retry_after_reaches_the_next_utc_midnight(moment: datetime) -> None:
    seconds = seconds_to_midnight(moment)
    midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
    assert 1 <= seconds <= 86_400
    left = (midnight - (moment + timedelta(seconds=seconds))).total_seconds()
    assert left < 1
    assert left >= 0 or seconds == 1


def test_a_charge_past_the_quota_is_refused_whole(state_url: str) -> None:
    StateStore(state_url).close()  # migrated
    with ServiceStore(state_url) as service:
        service.add_agency("ICE")
        assert service.charge_rows("ICE", 3, 4, today=DAY) == 3
        with pytest.raises(LimitExceeded) as refused:
            service.charge_rows("ICE", 2, 4, today=DAY)
        assert refused.value.retry_after >= 1
        assert service.charge_rows("ICE", 0, 4, today=DAY) == 3  # nothing of the refused charge
        assert service.charge_rows("ICE", 1, 4, today=DAY) == 4  # exactly the quota fits
        assert service.charge_rows("ICE", 4, 4, today=DAY + timedelta(days=1)) == 4
