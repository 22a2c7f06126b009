"""Variation margin under a CSA, with a margin period of risk (ORE-style lagged close-out).

At each exposure date t the collateral held is the balance after the margin call made on the
netting set's value at t - MPoR (the last call the counterparty honoured before default):

    target  = max(V - TH_cpty, 0) - max(-V - TH_own, 0)    (in the CSA currency)
    balance = target   if |target - balance_prev| >= MTA   else balance_prev

with V converted to the CSA currency at the simulated FX of the call date; with a rounding R
the transfer is a multiple of R, rounded up when it moves the balance away from zero (a
delivery) and down when towards it (a return), as the ISDA CSA's Rounding paragraph. Positive
balances are
held by the bank, negative ones posted by it. A one-way CSA has an infinite threshold on the side
that does not post. The independent amount (IA, held by the bank when positive) is added to the
balance. The collateral's base-currency value at t uses the FX of t, so FX moves over the margin
period of risk are exposure too. With daily calls the call for t is made at t - MPoR (one lag
date per exposure date); with weekly or monthly calls at the last call date on or before
t - MPoR (:func:`xvaflow.simulation.grid.build_grid`); initial margin is not modelled yet.

Reference: ORE user guide, "Collateral" (CollateralExposureHelper, lagged and symmetric calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xvaflow.core.backend import array_namespace
from xvaflow.core.dates import FloatArray, IntArray


@dataclass(frozen=True)
class CsaArrays:
    """CSA terms of the collateralised netting sets (``[n]`` arrays, amounts in CSA currency).

    Attributes:
        column: row of each collateralised netting set in the valuer's results.
        currency: model currency index of each CSA.
        threshold_cpty, threshold_own: thresholds (inf for the side that does not post).
        mta: minimum transfer amount.
        independent_amount: held by the bank (negative: posted by the bank).
        mpor_days: margin period of risk in business days.
        frequency: margin call frequency (``daily``, ``weekly``, ``monthly``).
        rounding: transfers are multiples of this (0: not rounded).
    """

    column: IntArray
    currency: IntArray
    threshold_cpty: FloatArray
    threshold_own: FloatArray
    mta: FloatArray
    independent_amount: FloatArray
    mpor_days: IntArray
    frequency: tuple[str, ...]
    rounding: FloatArray

    def __len__(self) -> int:
        return int(self.column.size)


def margin_call(value_csa: Any, balance: Any, csa: CsaArrays, rows: Any = slice(None)) -> Any:
    """New VM balance ``[n, paths]`` after a call on values ``value_csa`` (CSA currency)."""
    xp = array_namespace(value_csa, balance)
    th_c = xp.asarray(csa.threshold_cpty[rows])[:, None]
    th_o = xp.asarray(csa.threshold_own[rows])[:, None]
    mta = xp.asarray(csa.mta[rows])[:, None]
    target = xp.maximum(value_csa - th_c, 0.0) - xp.maximum(-value_csa - th_o, 0.0)
    transfer = target - balance
    rounding = xp.asarray(csa.rounding[rows])[:, None]
    if bool((csa.rounding[rows] > 0.0).any()):
        units = xp.abs(transfer) / xp.where(rounding > 0.0, rounding, 1.0)
        delivery = xp.abs(target) > xp.abs(balance)
        # (a transfer of exactly n units stays n, whatever the last bit of the division)
        rounded = xp.sign(transfer) * rounding * xp.where(
            delivery, xp.ceil(units - 1e-9), xp.floor(units + 1e-9))
        transfer = xp.where(rounding > 0.0, rounded, transfer)
    return xp.where(xp.abs(target - balance) >= mta, balance + transfer, balance)


def held_collateral(balance: Any, csa: CsaArrays) -> Any:
    """Collateral held ``[n, paths]`` in the CSA currency: VM balance plus independent amount."""
    xp = array_namespace(balance)
    return balance + xp.asarray(csa.independent_amount)[:, None]
