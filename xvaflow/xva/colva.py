"""COLVA: the value of the collateral rate's spread over the overnight rate (csas.csv
``collateral_spread_bp``).

Collateral earns its holder's counterparty the CSA rate, the overnight rate of its currency plus
a spread s; discounting at the overnight rate prices the collateral flat, so only the spread is
value. The bank pays s on collateral it holds and receives it on collateral it posts, while
both parties survive:

    COLVA = -s sum_k (t_k - t_{k-1}) E[C(t_k) / N(t_k)] S_C(t_k) S_B(t_k)

with E[C/N] the deflated expected collateral of the exposure profile (base currency, C > 0
held), the right-point rule on the exposure dates (as KVA's), S_B = 1 without ``own_credit``.
Signed: added to the book's value (negative when the bank holds collateral at a positive
spread). 0 without a CSA or with no spread.
"""

from __future__ import annotations

import numpy as np

from xvaflow.core.dates import FloatArray


def colva(times: FloatArray, expected_collateral: FloatArray, spread: FloatArray,
          survival: FloatArray) -> FloatArray:
    """``[ns]`` COLVA from exposure ``times`` ``[E]``, E[C/N] ``[E, ns]``, the spreads ``[ns]``
    (decimal) and the joint survival ``[E, ns]``."""
    dt = np.diff(np.r_[0.0, times])
    out: FloatArray = -spread * (dt[:, None] * expected_collateral * survival).sum(axis=0)
    return out
