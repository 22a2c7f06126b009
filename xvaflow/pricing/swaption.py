"""European swaptions in Hull-White 1F (generalised Jamshidian), at time 0.

The underlying's rows (see :mod:`xvaflow.products.tables`) are worth at expiry T, in terms of
the T-forward Gaussian y ~ N(0, V(T)) of :mod:`xvaflow.models.hull_white`,

    fixed row      a P(T, p)                 = K exp(-B(T,p) y),
    projected row  a P(T, p) P(T, s)/P(T, e) = K exp(-(B(T,p) + B(T,s) - B(T,e)) y),

with K = a [P(0,p) P(0,s) / (P(0,e) P(0,T))] exp(-(B_p^2 + B_s^2 - B_e^2) V(T) / 2) (for a
fixed row drop the s, e factors). Terms with the same exponent are merged: on a single curve an
overnight leg telescopes, so an underlying reduces to about one term per fixed-leg date. The
swaption is worth sign * P(0,T) E^T[max(sum K e^{-beta y}, 0)], evaluated exactly by
:mod:`xvaflow.models.gaussian`. A cash-settled swaption (collateralised cash price) has the same
value.
"""

from __future__ import annotations

import numpy as np

from xvaflow.market.market import Market
from xvaflow.models.calibration import hull_white_for
from xvaflow.models.gaussian import expected_positive_part
from xvaflow.models.hull_white import padded_coefficients, state_variance
from xvaflow.products.tables import FloatArray, LinearFlows, SwaptionTable


def swaption_values_t0(table: SwaptionTable, flows: LinearFlows, currencies: tuple[str, ...],
                       market: Market) -> FloatArray:
    """``[swaptions]`` values at as_of, each in its own currency."""
    if len(table) == 0:
        return np.zeros(0)
    ccys = [currencies[c] for c in table.currency]
    hw = {c: hull_white_for(market, c)[0] for c in set(ccys)}
    params = [(hw[c].mean_reversion, hw[c].volatility) for c in ccys]
    curves = [market.curve(c) for c in ccys]
    coef, beta, _ = padded_coefficients(table, flows, currencies, params, curves)
    var = np.array([float(state_variance(a, s, t)) for (a, s), t in zip(params, table.expiry,
                                                                       strict=True)])
    value = expected_positive_part(coef, beta, np.zeros(len(table)), var)
    discount = np.array([float(c.discount(t)) for c, t in zip(curves, table.expiry, strict=True)])
    out: FloatArray = table.sign * discount * value
    return out
