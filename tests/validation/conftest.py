"""Shared fixtures of the QuantLib validation suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import QuantLib as ql


@pytest.fixture(autouse=True)
def _quantlib_state() -> Iterator[None]:
    """Par Ibor coupons (the forward spans the accrual period, as xvaflow's convention says),
    no fixing for today (QuantLib forecasts the as_of fixing), and clean global state after."""
    ql.IborCoupon.createAtParCoupons()
    settings = ql.Settings.instance()
    saved = settings.evaluationDate
    settings.enforcesTodaysHistoricFixings = False
    settings.includeReferenceDateEvents = False
    yield
    ql.IndexManager.instance().clearHistories()
    settings.evaluationDate = saved
