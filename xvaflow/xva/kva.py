"""Capital profiles and KVA from the simulated exposure profiles.

The capital a netting set needs at each exposure date t_j, as if the bank used the internal
model method for its EAD (the exposure is simulated) and IRB for the counterparty, following
ORE's KVA (post-processing of the exposure cube: Basel EEPE looking a year ahead from each
date, effective maturity, IRB risk weight from the counterparty's PD, CVA capital from the
same EEPE) and the Basel texts it implements:

- EEPE(t_j) = (1 / T) int_{t_j}^{t_j + T} EEE(t) dt, EEE the running maximum of the undeflated
  EE from t_j on (EE(t_j) included), T = one year or the netting set's remaining life if
  shorter (CRE53.15-16 applied from t_j); EAD(t_j) = alpha EEPE(t_j), alpha = 1.4 (CRE53.5).
- Effective maturity (CRE53.20, from t_j): M = 1 + sum_{t_k > t_j + 1Y} EE*_k dt_k /
  sum_{t_j < t_k <= t_j + 1Y} EEE*_k dt_k on the deflated (discounted) profile EE* = EPE,
  floored at 1; capped at 5 for CCR capital, not for CVA capital (MAR50.16).
- IRB capital factor (CRE31.5-31.6, corporate): K = LGD [N((G(PD) + sqrt(R) G(0.999)) /
  sqrt(1 - R)) - PD] (1 + (M - 2.5) b) / (1 - 1.5 b), R = 0.12 f + 0.24 (1 - f),
  f = (1 - e^{-50 PD}) / (1 - e^{-50}), b = (0.11852 - 0.05478 ln PD)^2; PD the counterparty's
  one-year default probability 1 - S_C(1) from its hazard curve, floored at 0.05%
  (CRE32.37); LGD = 1 - its recovery. CCR capital = EAD K.
- CVA capital (BA-CVA reduced, MAR50.14-15, per netting set on its own):
  DS RW_c M EAD / alpha with DF = 1 (the EAD is an IMM-style EEPE, MAR50.15) and RW_c the
  counterparty's sector and credit-quality risk weight (:func:`~xvaflow.regulatory.bacva.
  risk_weight`).
- KVA = CoC sum_j C(t_j) (t_j - t_{j-1}) P(0, t_j) S_C(t_j) S_B(t_j): the cost of capital
  (run.json ``cost_of_capital``, default 10%) on the capital C = CCR + CVA held over each
  interval (right-point rule, as ORE's), discounted on the base OIS curve and weighted by
  both parties' survival (S_B = 1 without own credit).

Each netting set is capitalised on its own: the total KVA adds the netting sets (no
diversification of the BA-CVA square root across counterparties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from xvaflow.core.dates import FloatArray
from xvaflow.exposure.profile import eepe as eepe_from
from xvaflow.regulatory.bacva import ALPHA, DS

COST_OF_CAPITAL = 0.10
PD_FLOOR = 0.0005  # CRE32.37
MATURITY_CAP = 5.0  # CRE32.47 (CCR capital only)
CONFIDENCE = 0.999
YEAR = 1.0


def irb_capital_factor(pd: FloatArray, lgd: FloatArray, maturity: FloatArray) -> FloatArray:
    """K per unit of EAD (CRE31.5-31.6, corporate exposures); arrays broadcast."""
    pd = np.maximum(np.asarray(pd, dtype=float), PD_FLOOR)
    f = -np.expm1(-50.0 * pd) / -np.expm1(-50.0)
    r = 0.12 * f + 0.24 * (1.0 - f)
    b = (0.11852 - 0.05478 * np.log(pd)) ** 2
    tail = ndtr((ndtri(pd) + np.sqrt(r) * ndtri(CONFIDENCE)) / np.sqrt(1.0 - r))
    out: FloatArray = lgd * (tail - pd) * (1.0 + (maturity - 2.5) * b) / (1.0 - 1.5 * b)
    return out


@dataclass(frozen=True)
class CapitalProfile:
    """``[dates, ns]`` EAD, CCR capital and CVA capital at each exposure date."""

    ead: FloatArray
    ccr: FloatArray
    cva: FloatArray

    @property
    def total(self) -> FloatArray:
        out: FloatArray = self.ccr + self.cva
        return out


def _forward_measures(times: FloatArray, basel_ee: FloatArray, ee_deflated: FloatArray,
                      end: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(EEPE ``[dates, ns]``, effective maturity before caps ``[dates, ns]``) from each date."""
    n, n_ns = basel_ee.shape
    eepe, maturity = np.zeros((n, n_ns)), np.ones((n, n_ns))
    dt = np.diff(np.r_[0.0, times])
    for j in range(n):
        later = times[j + 1:]
        window = np.minimum(YEAR, np.maximum(end - times[j], 0.0))  # [ns]
        eee = np.maximum.accumulate(basel_ee[j:], axis=0)  # from EE(t_j)
        if later.size == 0:
            eepe[j] = eee[0] * (window > 0.0)
            continue
        # the Basel EEPE of the dates after t_j, their running maximum started at EE(t_j)
        eepe[j] = np.where(window > 0.0, eepe_from(later - times[j], eee[1:], window), 0.0)
        first_year = later - times[j] <= YEAR + 1e-9
        eee_d = np.maximum.accumulate(ee_deflated[j + 1:], axis=0)
        denominator = (eee_d * (dt[j + 1:] * first_year)[:, None]).sum(axis=0)
        numerator = (ee_deflated[j + 1:] * (dt[j + 1:] * ~first_year)[:, None]).sum(axis=0)
        maturity[j] = 1.0 + np.where(denominator > 0.0, numerator
                                     / np.where(denominator > 0.0, denominator, 1.0), 0.0)
    return eepe, maturity


def capital_profile(times: FloatArray, basel_ee: FloatArray, ee_deflated: FloatArray,
                    end: FloatArray, pd: FloatArray, lgd: FloatArray, cva_weight: FloatArray
                    ) -> CapitalProfile:
    """Capital at each exposure date (module doc).

    Args:
        times: ``[dates]`` exposure times.
        basel_ee: ``[dates, ns]`` undeflated EE, E[max(V - C, 0)].
        ee_deflated: ``[dates, ns]`` deflated EPE (for the effective maturity's weights).
        end: ``[ns]`` time of each netting set's last event.
        pd, lgd: ``[ns]`` the counterparty's one-year PD and its LGD.
        cva_weight: ``[ns]`` the counterparty's BA-CVA risk weight.
    """
    eepe, maturity = _forward_measures(times, basel_ee, ee_deflated, end)
    ead = ALPHA * eepe
    ccr = ead * irb_capital_factor(pd[None, :], lgd[None, :],
                                   np.minimum(maturity, MATURITY_CAP))
    cva = DS * cva_weight[None, :] * maturity * eepe
    return CapitalProfile(ead, ccr, cva)


def kva(times: FloatArray, capital: FloatArray, discount: FloatArray, survival: FloatArray,
        cost_of_capital: float = COST_OF_CAPITAL) -> FloatArray:
    """``[ns]`` CoC sum_j C(t_j) (t_j - t_{j-1}) P(0, t_j) S(t_j) for capital ``[dates, ns]``,
    discount factors ``[dates]`` and joint survival ``[dates, ns]``."""
    dt = np.diff(np.r_[0.0, times])
    out: FloatArray = cost_of_capital * (capital * (dt * discount)[:, None] * survival).sum(
        axis=0)
    return out
