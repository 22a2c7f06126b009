"""The market snapshot every pricer and model reads: curves, FX, vols, equities, credit, funding.

FX conventions (CONTRACT.md): ``EURUSD = 1.08`` means 1 EUR = 1.08 USD. Every currency is
quoted against the base currency (either orientation); a cross rate goes through the base:
X/Y = (X in base) / (Y in base). Forwards follow covered interest parity on the two currencies'
curves: F_XY(T) = S_XY P_X(T) / P_Y(T).

FX and equity volatilities are implied lognormal vols by expiry (:class:`VolCurve`: a scalar
is a flat term structure). FX volatility of a pair is taken as quoted (or from the inverse pair,
same number). A cross without a quote is derived, expiry by expiry, from the two base pairs and
their correlation rho (from ``correlations`` as ``FX_XB:FX_YB``):
sigma_XY^2 = sigma_XB^2 + sigma_YB^2 - 2 rho sigma_XB sigma_YB.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xvaflow.core.calendar import WEEKENDS, Calendar
from xvaflow.core.dates import Tenor
from xvaflow.market.conventions import split_pair
from xvaflow.market.curves import HazardCurve, ZeroCurve


class MissingMarketDataError(KeyError):
    """A pricer asked for market data the snapshot does not hold (message says which)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing market data"


@dataclass(frozen=True)
class VolCurve:
    """Implied lognormal volatility by expiry.

    Total variance w(T) = sigma(T)^2 T is linear in T between pillars (the usual interpolation:
    forward variance constant between pillars), with the vol flat before the first pillar and
    after the last. A scalar vol is one pillar: a flat term structure.

    Attributes:
        times: ``[n]`` pillar times (ACT/365F years from as_of), increasing, > 0.
        vols: ``[n]`` implied vols at the pillars (decimal).
    """

    times: tuple[float, ...]
    vols: tuple[float, ...]

    @classmethod
    def flat(cls, vol: float) -> VolCurve:
        return cls((1.0,), (float(vol),))

    def total_variance(self, t: Any) -> Any:
        """w(t) = sigma(t)^2 t for times ``t`` (scalar or ``[n]``)."""
        tt = np.asarray(t, dtype=np.float64)
        times, vols = np.asarray(self.times), np.asarray(self.vols)
        w = vols * vols * times
        inside = np.interp(tt, times, w)
        out = np.where(tt <= times[0], vols[0] ** 2 * tt,
                       np.where(tt >= times[-1], vols[-1] ** 2 * tt, inside))
        return out if out.ndim else float(out)

    def vol(self, t: Any) -> Any:
        """sigma(t) = sqrt(w(t) / t) (the first pillar's vol at t = 0)."""
        tt = np.asarray(t, dtype=np.float64)
        safe = np.maximum(tt, 1e-12)
        out = np.where(tt <= self.times[0], self.vols[0],
                       np.sqrt(np.asarray(self.total_variance(safe)) / safe))
        return out if out.ndim else float(out)


@dataclass(frozen=True, slots=True)
class EquitySpec:
    """An equity index: spot (in ``currency``), continuous dividend yield, implied vols, and its
    ISDA SIMM equity bucket (``"1"`` ... ``"12"``, ``"Residual"``; None when not given)."""

    name: str
    spot: float
    currency: str
    dividend_yield: float
    vol: VolCurve
    simm_bucket: str | None = None


@dataclass(frozen=True, slots=True)
class HullWhiteParams:
    """Hull-White 1F parameters: dr = (theta(t) - a r) dt + sigma dW."""

    mean_reversion: float
    volatility: float


@dataclass(frozen=True)
class SwaptionVolGrid:
    """Normal (Bachelier) swaption vols, decimal, ``vols[i][j]`` for expiry i and swap tenor j."""

    expiries: tuple[Tenor, ...]
    tenors: tuple[Tenor, ...]
    vols: tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class CreditSpec:
    """A credit curve and its recovery rate."""

    curve: HazardCurve
    recovery: float


@dataclass(frozen=True, slots=True)
class Funding:
    """Unsecured funding spreads over the OIS curve (decimal): borrowing and lending."""

    borrow_spread: float
    lend_spread: float


@dataclass(frozen=True)
class Market:
    """Market snapshot at ``as_of``.

    Attributes:
        as_of: valuation date, model time 0.
        base_currency: reporting currency; every FX spot is quoted against it.
        curves: currency -> OIS discount/projection curve.
        fx_to_base: currency -> value of one unit in base currency (base -> 1.0).
        calendars: currency -> holiday calendar (weekends only when absent).
        index_basis: term index -> additive basis on its forward rate (decimal).
        fx_vols: pair as quoted -> implied lognormal vols by expiry.
        equities: name -> spec.
        swaption_vols: currency -> normal vol grid.
        hull_white: currency -> HW parameters.
        correlations: unordered factor pair (sorted tuple) -> correlation.
        own_credit: the bank's own credit (for DVA/FBA), if given.
        funding: funding spreads, if given.
        document: the market.json document it was read from, if any.
    """

    as_of: _dt.date
    base_currency: str
    curves: Mapping[str, ZeroCurve]
    fx_to_base: Mapping[str, float]
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    index_basis: Mapping[str, float] = field(default_factory=dict)
    fx_vols: Mapping[str, VolCurve] = field(default_factory=dict)
    equities: Mapping[str, EquitySpec] = field(default_factory=dict)
    swaption_vols: Mapping[str, SwaptionVolGrid] = field(default_factory=dict)
    hull_white: Mapping[str, HullWhiteParams] = field(default_factory=dict)
    correlations: Mapping[tuple[str, str], float] = field(default_factory=dict)
    own_credit: CreditSpec | None = None
    funding: Funding | None = None
    # The market.json document this snapshot was read from (None when built in code): the
    # starting point of bumped copies (xvaflow.xva.bumps).
    document: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    # Results derived from this snapshot (e.g. calibrated Hull-White parameters), owned by it:
    # they live as long as the snapshot and a modified copy (dataclasses.replace) starts empty.
    memo: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    # -- curves and calendars -------------------------------------------------------------
    def curve(self, currency: str) -> ZeroCurve:
        try:
            return self.curves[currency]
        except KeyError:
            raise MissingMarketDataError(f"market.json has no curve for {currency}") from None

    def calendar(self, currency: str) -> Calendar:
        return self.calendars.get(currency, WEEKENDS)

    def discount(self, currency: str, t: Any) -> Any:
        """P_ccy(0, t)."""
        return self.curve(currency).discount(t)

    # -- FX -------------------------------------------------------------------------------
    def fx_rate(self, from_ccy: str, to_ccy: str) -> float:
        """Units of ``to_ccy`` per unit of ``from_ccy`` today (spot, no settlement lag)."""
        try:
            return self.fx_to_base[from_ccy] / self.fx_to_base[to_ccy]
        except KeyError as exc:
            raise MissingMarketDataError(
                f"market.json fx_spots has no rate for {exc.args[0]} against "
                f"{self.base_currency}"
            ) from None

    def fx_forward(self, pair: str, t: Any) -> Any:
        """Outright forward of ``pair`` (e.g. EURUSD) for delivery at time ``t``."""
        foreign, domestic = split_pair(pair)
        return (self.fx_rate(foreign, domestic) * self.discount(foreign, t)
                / self.discount(domestic, t))

    def correlation(self, a: str, b: str) -> float | None:
        """Correlation of two factors (e.g. ``IR_USD``, ``FX_EURUSD``), None if not given."""
        if a == b:
            return 1.0
        key = (a, b) if a < b else (b, a)
        return self.correlations.get(key)

    def fx_vol(self, pair: str, t: Any) -> Any:
        """Implied lognormal vol of ``pair`` for expiry ``t`` (scalar or ``[n]``): quoted,
        inverse-quoted, or a cross through the base."""
        foreign, domestic = split_pair(pair)
        direct = self.fx_vols.get(foreign + domestic, self.fx_vols.get(domestic + foreign))
        if direct is not None:
            return direct.vol(t)
        base = self.base_currency
        if base in (foreign, domestic):
            raise MissingMarketDataError(f"market.json fx_vols has no vol for {pair}")
        legs = []
        for ccy in (foreign, domestic):
            quoted = next((p for p in (ccy + base, base + ccy) if p in self.fx_vols), None)
            if quoted is None:
                raise MissingMarketDataError(
                    f"market.json fx_vols has no vol for {pair}, nor {ccy}{base} to derive it"
                )
            legs.append(quoted)
        rho = self.correlation(f"FX_{legs[0]}", f"FX_{legs[1]}")
        if rho is None:
            raise MissingMarketDataError(
                f"market.json fx_vols has no vol for {pair}; deriving it from {legs[0]} and "
                f"{legs[1]} needs correlations entry FX_{legs[0]}:FX_{legs[1]}"
            )
        # Both legs quoted as CCY/base or base/CCY: flip the sign of rho for each inverted leg.
        sign = (1 if legs[0].startswith(foreign) else -1) * (1 if legs[1].startswith(domestic)
                                                             else -1)
        s1, s2 = self.fx_vols[legs[0]].vol(t), self.fx_vols[legs[1]].vol(t)
        out = np.sqrt(np.maximum(s1 * s1 + s2 * s2 - 2.0 * sign * rho * s1 * s2, 0.0))
        return out if out.ndim else float(out)

    # -- equities -----------------------------------------------------------
    def equity(self, name: str) -> EquitySpec:
        try:
            return self.equities[name]
        except KeyError:
            raise MissingMarketDataError(f"market.json equities has no {name}") from None
