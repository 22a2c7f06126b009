"""SA-CCR: exposure at default of netting sets (Basel Framework CRE52; BCBS 279, March 2014).

Per netting set (paragraph numbers of CRE52, effective 1 January 2023)::

    EAD        = alpha (RC + PFE),  alpha = 1.4                                    (CRE52.1)
    RC         = max(V - C, 0)                              unmargined             (CRE52.10)
               = max(V - C, TH + MTA - NICA, 0)             margined               (CRE52.18)
    PFE        = multiplier x AddOn                                                (CRE52.22)
    multiplier = min(1, F + (1 - F) exp((V - C) / (2 (1 - F) AddOn))),  F = 5%     (CRE52.23)
    AddOn      = AddOn_IR + AddOn_FX + AddOn_EQ                                    (CRE52.25)

and a margined netting set's EAD is capped at the EAD of the same netting set computed as if it
were unmargined (CRE52.1, footnote). A risk position i (:class:`~xvaflow.products.saccr.
SaccrPosition`) contributes delta_i d_i MF_i to its hedging set's effective notional:

- d_i, adjusted notional (CRE52.34-37): IR: notional x SD_i with the supervisory duration
  SD = (exp(-0.05 S) - exp(-0.05 E)) / 0.05; FX and equity: the notional in base currency.
- delta_i (CRE52.38-41): +-1 for linear positions; for options
  +-Phi(d) (call) / -+Phi(-d) (put), d = (ln((P + lambda)/(K + lambda)) + sigma^2 T/2) /
  (sigma sqrt(T)), the sign + for a bought option, with the supervisory vols of CRE52.72.
- MF_i (CRE52.48, .52): unmargined sqrt(min(max(M, 10/250), 1)); margined
  1.5 sqrt(max(MPOR, 10) / 250) with MPOR in business days.

Add-ons by asset class (CRE52.55-72):

- IR (CRE52.55-58): per currency, buckets E < 1, 1 <= E <= 5, E > 5 with effective notionals
  D_1, D_2, D_3; EN = sqrt(D1^2 + D2^2 + D3^2 + 1.4 D1 D2 + 1.4 D2 D3 + 0.6 D1 D3);
  AddOn_IR = sum over currencies of SF_IR x EN, SF_IR = 0.5%.
- FX (CRE52.59-61): per currency pair, AddOn = SF_FX |sum of delta d MF|, SF_FX = 4%.
- Equity (CRE52.66-68): one hedging set; per entity k AddOn_k = SF_k x sum of delta d MF;
  AddOn_EQ = sqrt((sum_k rho_k AddOn_k)^2 + sum_k (1 - rho_k^2) AddOn_k^2), with SF 32%,
  rho 50% for single names, SF 20%, rho 80% for indices.

Supervisory parameters are the published ones (CRE52.72, table 2; CRE52.1 alpha; CRE52.23
floor); the conventions that turn a trade into positions are in docs/conventions.md
("Regulatory capital").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from xvaflow.products.saccr import EQ, FX, IR, SaccrPosition

FloatArray = np.ndarray
BoolArray = np.ndarray

ALPHA = 1.4
"""CRE52.1: alpha multiplying RC + PFE."""
MULTIPLIER_FLOOR = 0.05
"""CRE52.23: floor of the PFE multiplier."""
SF_IR, SF_FX = 0.005, 0.04
"""CRE52.72 table 2: supervisory factors of interest rates and FX."""
SF_EQ_SINGLE, SF_EQ_INDEX = 0.32, 0.20
"""CRE52.72 table 2: supervisory factors of single-name and index equities."""
RHO_EQ_SINGLE, RHO_EQ_INDEX = 0.50, 0.80
"""CRE52.72 table 2: correlations of single-name and index equities."""
VOL_IR, VOL_FX, VOL_EQ_SINGLE, VOL_EQ_INDEX = 0.50, 0.15, 1.20, 0.75
"""CRE52.72 table 2: supervisory option volatilities."""
IR_BUCKET_CORRELATION = {(0, 1): 1.4, (1, 2): 1.4, (0, 2): 0.6}
"""CRE52.57: cross terms of the IR buckets' effective notionals (2 x 70%, 2 x 70%, 2 x 30%)."""
EQUITY_INDICES = frozenset({"SPX", "EUROSTOXX", "SX5E", "NIKKEI"})
"""Equity underlyings treated as indices (docs/conventions.md); any other is a single name."""
MIN_MATURITY_YEARS = 10.0 / 250.0
"""CRE52.48: M floored at 10 business days (of 250 a year)."""
MPOR_FLOOR_DAYS = 10
"""CRE52.50: minimum margin period of risk, business days (bilateral, daily margining)."""
BUSINESS_DAYS_YEAR = 250.0
"""CRE52.48, .52: one year = 250 business days."""
SD_RATE = 0.05
"""CRE52.34: the 5% rate of the supervisory duration."""


# ---------------------------------------------------------------------------------------------
# Supervisory formulas (pure, vectorised)
# ---------------------------------------------------------------------------------------------
def supervisory_duration(start: FloatArray, end: FloatArray) -> FloatArray:
    """SD = (exp(-0.05 S) - exp(-0.05 E)) / 0.05 (CRE52.34), S and E in years (``[n]``).

    BCBS 279 Annex 4a example 1: S = 0, E = 10 gives 7.87; S = 0, E = 4 gives 3.63; S = 1,
    E = 11 gives 7.49.
    """
    s, e = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    return (np.exp(-SD_RATE * s) - np.exp(-SD_RATE * e)) / SD_RATE


def ir_bucket(end: FloatArray) -> np.ndarray:
    """IR maturity bucket of E (CRE52.55): 0 for E < 1, 1 for 1 <= E <= 5, 2 for E > 5."""
    e = np.asarray(end, dtype=float)
    return np.where(e < 1.0, 0, np.where(e <= 5.0, 1, 2)).astype(np.int64)


def maturity_factor_unmargined(maturity: FloatArray) -> FloatArray:
    """MF = sqrt(min(max(M, 10/250), 1)) (CRE52.48), M in years."""
    m = np.asarray(maturity, dtype=float)
    return np.asarray(np.sqrt(np.minimum(np.maximum(m, MIN_MATURITY_YEARS), 1.0)), dtype=float)


def maturity_factor_margined(mpor_days: FloatArray) -> FloatArray:
    """MF = 1.5 sqrt(max(MPOR, 10) / 250) (CRE52.52; floor CRE52.50), MPOR in business days."""
    mpor = np.maximum(np.asarray(mpor_days, dtype=float), MPOR_FLOOR_DAYS)
    return np.asarray(1.5 * np.sqrt(mpor / BUSINESS_DAYS_YEAR), dtype=float)


def option_delta(call: BoolArray, bought: BoolArray, price: FloatArray, strike: FloatArray,
                 expiry: FloatArray, vol: FloatArray) -> FloatArray:
    """Supervisory delta of options (CRE52.40), ``[n]``.

    delta = +Phi(d) bought call, -Phi(d) sold call, -Phi(-d) bought put, +Phi(-d) sold put,
    d = (ln((P + lambda)/(K + lambda)) + vol^2 T / 2) / (vol sqrt(T)). lambda is 0 where P and
    K are positive (as for BCBS 279 Annex 4a example 1, P = 6%, K = 5%, T = 1, vol = 50%:
    bought put delta -0.27); where either is not, lambda = 0.1% - min(P, K), the shift of
    CRE52.40's footnote that makes both positive.
    """
    p, k = np.asarray(price, dtype=float), np.asarray(strike, dtype=float)
    low = np.minimum(p, k)
    shift = np.where(low > 0.0, 0.0, 0.001 - low)
    t = np.maximum(np.asarray(expiry, dtype=float), 1e-12)
    sig = np.asarray(vol, dtype=float) * np.sqrt(t)
    d = (np.log((p + shift) / (k + shift)) + 0.5 * sig * sig) / sig
    side = np.where(np.asarray(bought, dtype=bool), 1.0, -1.0)
    return np.asarray(side * np.where(np.asarray(call, dtype=bool), ndtr(d), -ndtr(-d)),
                      dtype=float)


def ir_effective_notional(d1: FloatArray, d2: FloatArray, d3: FloatArray) -> FloatArray:
    """EN = sqrt(D1^2 + D2^2 + D3^2 + 1.4 D1 D2 + 1.4 D2 D3 + 0.6 D1 D3) (CRE52.57)."""
    total = (d1 * d1 + d2 * d2 + d3 * d3 + IR_BUCKET_CORRELATION[(0, 1)] * d1 * d2
             + IR_BUCKET_CORRELATION[(1, 2)] * d2 * d3 + IR_BUCKET_CORRELATION[(0, 2)] * d1 * d3)
    return np.asarray(np.sqrt(np.maximum(total, 0.0)), dtype=float)


def pfe_multiplier(v_minus_c: FloatArray, addon: FloatArray) -> FloatArray:
    """min(1, F + (1 - F) exp((V - C) / (2 (1 - F) AddOn))), F = 5% (CRE52.23).

    A netting set without add-on has PFE 0 whatever its multiplier; it is reported as 1.
    """
    x, a = np.asarray(v_minus_c, dtype=float), np.asarray(addon, dtype=float)
    f = MULTIPLIER_FLOOR
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        m = f + (1.0 - f) * np.exp(np.minimum(x / (2.0 * (1.0 - f) * a), 0.0))
    return np.asarray(np.where(a > 0.0, np.minimum(1.0, m), 1.0), dtype=float)


def replacement_cost_unmargined(v: FloatArray, c: FloatArray) -> FloatArray:
    """RC = max(V - C, 0) (CRE52.10)."""
    return np.asarray(np.maximum(np.asarray(v) - np.asarray(c), 0.0), dtype=float)


def replacement_cost_margined(v: FloatArray, c: FloatArray, threshold: FloatArray,
                              mta: FloatArray, nica: FloatArray) -> FloatArray:
    """RC = max(V - C, TH + MTA - NICA, 0) (CRE52.18)."""
    floor = np.asarray(threshold) + np.asarray(mta) - np.asarray(nica)
    return np.asarray(np.maximum(np.maximum(np.asarray(v) - np.asarray(c), floor), 0.0),
                      dtype=float)


# ---------------------------------------------------------------------------------------------
# Positions as arrays, add-ons per netting set
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PositionArrays:
    """Risk positions as arrays (``[positions]``), with their supervisory delta and adjusted
    notional already applied.

    Attributes:
        netting_set: index of the position's netting set.
        asset_class: 0 IR, 1 FX, 2 EQ.
        hedging_set: index into ``labels`` (currency, pair or equity name).
        bucket: IR maturity bucket (0, 1, 2); for equities 1 for an index, 0 a single name.
        adjusted: d, adjusted notional in base currency (IR: notional x SD).
        delta: supervisory delta.
        maturity: M of the unmargined maturity factor, years.
        labels: hedging set names.
    """

    netting_set: np.ndarray
    asset_class: np.ndarray
    hedging_set: np.ndarray
    bucket: np.ndarray
    adjusted: FloatArray
    delta: FloatArray
    maturity: FloatArray
    labels: tuple[str, ...]


CLASS_CODE = {IR: 0, FX: 1, EQ: 2}


def position_arrays(positions: Sequence[SaccrPosition], netting_set_of_trade: np.ndarray
                    ) -> PositionArrays:
    """Adjusted notionals (CRE52.34-37) and supervisory deltas (CRE52.38-41) of positions.

    Args:
        positions: the product families' risk positions.
        netting_set_of_trade: ``[trades]`` netting-set index of every trade.
    """
    n = len(positions)
    labels: dict[str, int] = {}
    cls = np.array([CLASS_CODE[p.asset_class] for p in positions], dtype=np.int64)
    hs = np.array([labels.setdefault(p.hedging_set, len(labels)) for p in positions],
                  dtype=np.int64)
    notional = np.array([p.notional for p in positions], dtype=float)
    sign = np.array([p.sign for p in positions], dtype=float)
    start = np.array([p.start for p in positions], dtype=float)
    end = np.array([p.end for p in positions], dtype=float)
    index = np.array([p.hedging_set in EQUITY_INDICES for p in positions], dtype=bool)
    adjusted = np.where(cls == 0, notional * supervisory_duration(start, end), notional)
    bucket = np.where(cls == 0, ir_bucket(end), np.where(index, 1, 0)).astype(np.int64)

    delta = sign.copy()
    opt = np.array([p.option is not None for p in positions], dtype=bool)
    if opt.any():
        terms = [p.option for p in positions if p.option is not None]
        vol = np.where(cls[opt] == 0, VOL_IR, np.where(
            cls[opt] == 1, VOL_FX, np.where(index[opt], VOL_EQ_INDEX, VOL_EQ_SINGLE)))
        delta[opt] = option_delta(np.array([t.call for t in terms]), sign[opt] > 0,
                                  np.array([t.price for t in terms]),
                                  np.array([t.strike for t in terms]),
                                  np.array([t.expiry for t in terms]), vol)
    trade = np.array([p.trade for p in positions], dtype=np.int64)
    return PositionArrays(
        netting_set=netting_set_of_trade[trade] if n else np.zeros(0, dtype=np.int64),
        asset_class=cls, hedging_set=hs, bucket=bucket, adjusted=adjusted, delta=delta,
        maturity=np.array([p.maturity for p in positions], dtype=float),
        labels=tuple(labels))


def _group_sum(keys: list[np.ndarray], values: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """Unique rows of the stacked integer ``keys`` (``[groups, len(keys)]``) and the sum of
    ``values`` per group."""
    if values.size == 0:
        return np.zeros((0, len(keys)), dtype=np.int64), np.zeros(0)
    stacked = np.stack(keys, axis=1)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return unique, np.bincount(inverse.reshape(-1), weights=values, minlength=len(unique))


@dataclass(frozen=True)
class AddOns:
    """Add-ons per netting set (``[netting sets]``, base currency)."""

    ir: FloatArray
    fx: FloatArray
    eq: FloatArray

    @property
    def total(self) -> FloatArray:
        """Aggregate add-on (CRE52.25)."""
        return np.asarray(self.ir + self.fx + self.eq, dtype=float)


def add_ons(p: PositionArrays, mf: FloatArray, n_netting_sets: int) -> AddOns:
    """Add-ons per netting set and asset class (CRE52.55-68) for maturity factors ``mf``
    (``[positions]``)."""
    effective = p.delta * p.adjusted * mf
    out: dict[int, FloatArray] = {c: np.zeros(n_netting_sets) for c in (0, 1, 2)}

    ir = p.asset_class == 0
    keys, sums = _group_sum([p.netting_set[ir], p.hedging_set[ir], p.bucket[ir]], effective[ir])
    if len(keys):
        sets, inverse = np.unique(keys[:, :2], axis=0, return_inverse=True)
        d = np.zeros((len(sets), 3))
        d[inverse.reshape(-1), keys[:, 2]] = sums
        en = ir_effective_notional(d[:, 0], d[:, 1], d[:, 2])
        out[0] = np.bincount(sets[:, 0], weights=SF_IR * en, minlength=n_netting_sets)

    fx = p.asset_class == 1
    keys, sums = _group_sum([p.netting_set[fx], p.hedging_set[fx]], effective[fx])
    if len(keys):
        out[1] = np.bincount(keys[:, 0], weights=SF_FX * np.abs(sums), minlength=n_netting_sets)

    eq = p.asset_class == 2
    keys, sums = _group_sum([p.netting_set[eq], p.hedging_set[eq], p.bucket[eq]], effective[eq])
    if len(keys):
        is_index = keys[:, 2] == 1
        entity = np.where(is_index, SF_EQ_INDEX, SF_EQ_SINGLE) * sums
        rho = np.where(is_index, RHO_EQ_INDEX, RHO_EQ_SINGLE)
        systematic = np.bincount(keys[:, 0], weights=rho * entity, minlength=n_netting_sets)
        idio = np.bincount(keys[:, 0], weights=(1.0 - rho * rho) * entity * entity,
                           minlength=n_netting_sets)
        out[2] = np.sqrt(systematic * systematic + idio)
    return AddOns(out[0], out[1], out[2])


# ---------------------------------------------------------------------------------------------
# Netting sets
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NettingSetTerms:
    """Netting-set inputs of SA-CCR (``[netting sets]``, base currency at spot).

    Attributes:
        v: V, the sum of the trades' t0 values.
        c: C, net collateral held (+ received), 0 without a CSA.
        threshold, mta, nica: TH, MTA and NICA of the CSA (0 without one).
        margined: the netting set has a CSA.
        mpor_days: margin period of risk of the CSA, business days (unused when unmargined).
    """

    v: FloatArray
    c: FloatArray
    threshold: FloatArray
    mta: FloatArray
    nica: FloatArray
    margined: BoolArray
    mpor_days: FloatArray


@dataclass(frozen=True)
class SaccrResult:
    """SA-CCR per netting set (``[netting sets]``, base currency).

    ``rc``, ``multiplier``, ``addon*`` and ``pfe`` are those of the netting set as it is
    (margined when it has a CSA); ``ead`` is after the cap of a margined EAD at the unmargined
    one, whose value is ``ead_unmargined`` (equal to ``ead`` for unmargined netting sets).
    """

    margined: BoolArray
    v: FloatArray
    c: FloatArray
    rc: FloatArray
    multiplier: FloatArray
    addon: AddOns
    pfe: FloatArray
    ead: FloatArray
    ead_unmargined: FloatArray


def saccr(p: PositionArrays, ns: NettingSetTerms) -> SaccrResult:
    """EAD of every netting set (CRE52.1-25; see the module docstring)."""
    n = ns.v.size
    mf_unmargined = maturity_factor_unmargined(p.maturity)
    mf_margined = maturity_factor_margined(ns.mpor_days[p.netting_set])
    margined_pos = ns.margined[p.netting_set]
    as_is = add_ons(p, np.where(margined_pos, mf_margined, mf_unmargined), n)
    unmargined = add_ons(p, mf_unmargined, n)

    exposure = ns.v - ns.c
    rc = np.where(ns.margined, replacement_cost_margined(ns.v, ns.c, ns.threshold, ns.mta,
                                                         ns.nica),
                  replacement_cost_unmargined(ns.v, ns.c))
    mult = pfe_multiplier(exposure, as_is.total)
    pfe = mult * as_is.total
    ead = ALPHA * (rc + pfe)
    rc_u = replacement_cost_unmargined(ns.v, ns.c)
    ead_u = ALPHA * (rc_u + pfe_multiplier(exposure, unmargined.total) * unmargined.total)
    return SaccrResult(ns.margined, ns.v, ns.c, rc, mult, as_is, pfe,
                       np.where(ns.margined, np.minimum(ead, ead_u), ead), ead_u)
