"""Static conventions: currencies, floating-rate indices, frequencies.

Overnight indices are compounded in arrears and projected on their currency's OIS curve (single
curve). Term indices (EURIBOR, USD-TERM) are projected on the OIS curve of their currency plus a
deterministic basis from market.json ``index_basis``; their forward rate for an accrual period
[s, e] is the simple rate on the index day count: F = (P(s)/P(e) - 1) / tau_idx(s, e)
(QuantLib's "par coupon" convention).
"""

from __future__ import annotations

from dataclasses import dataclass

from xvaflow.core.dates import parse_tenor

# ISO 4217 codes accepted in inputs. A currency also needs a curve in market.json to be used.
CURRENCIES = frozenset((
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "HKD", "SGD",
    "CNY", "CNH", "KRW", "INR", "BRL", "MXN", "ZAR", "PLN", "CZK", "HUF", "TRY", "ILS", "THB",
    "TWD", "IDR", "MYR", "PHP", "CLP", "COP", "SAR", "AED",
))


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A floating-rate index.

    Attributes:
        name: e.g. ``"EUR-EURIBOR-6M"``.
        currency: currency of the index and of the OIS curve it is projected on.
        overnight: True for overnight indices (compounded in arrears), False for term indices.
        tenor_months: tenor of a term index (None for overnight).
        daycount: the index's own day count, used for term forward rates.
    """

    name: str
    currency: str
    overnight: bool
    tenor_months: int | None
    daycount: str


INDICES: dict[str, IndexSpec] = {
    spec.name: spec
    for spec in (
        IndexSpec("USD-SOFR", "USD", True, None, "ACT/360"),
        IndexSpec("EUR-ESTR", "EUR", True, None, "ACT/360"),
        IndexSpec("GBP-SONIA", "GBP", True, None, "ACT/365F"),
        IndexSpec("JPY-TONA", "JPY", True, None, "ACT/365F"),
        IndexSpec("CHF-SARON", "CHF", True, None, "ACT/360"),
        IndexSpec("EUR-EURIBOR-3M", "EUR", False, 3, "ACT/360"),
        IndexSpec("EUR-EURIBOR-6M", "EUR", False, 6, "ACT/360"),
        IndexSpec("USD-TERM-3M", "USD", False, 3, "ACT/360"),
    )
}

OVERNIGHT_INDEX: dict[str, str] = {s.currency: s.name for s in INDICES.values() if s.overnight}

_FREQUENCY_WORDS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def parse_frequency(text: str) -> int:
    """Coupon frequency as a period length in months.

    Accepts ``monthly|quarterly|semiannual|annual`` (case-insensitive) or a tenor in months or
    years (``1M, 3M, 6M, 12M, 1Y``).

    Raises:
        ValueError: unknown frequency or a day/week tenor.
    """
    word = text.strip().lower()
    if word in _FREQUENCY_WORDS:
        return _FREQUENCY_WORDS[word]
    try:
        tenor = parse_tenor(text)
        return tenor.months
    except ValueError:
        raise ValueError(
            f"{text!r} is not a coupon frequency (expected monthly, quarterly, semiannual, "
            "annual or a tenor such as 3M, 6M, 1Y)"
        ) from None


def split_pair(pair: str) -> tuple[str, str]:
    """Split ``"EURUSD"`` into ``("EUR", "USD")`` (1 EUR = rate USD).

    Raises:
        ValueError: not six letters of two known currencies.
    """
    p = pair.strip().upper()
    if len(p) != 6 or p[:3] not in CURRENCIES or p[3:] not in CURRENCIES or p[:3] == p[3:]:
        raise ValueError(f"{pair!r} is not a currency pair such as EURUSD")
    return p[:3], p[3:]
