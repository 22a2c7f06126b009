"""CRIF: the ISDA Common Risk Interchange Format, read into typed records and written back.

A CRIF is a CSV table with one sensitivity per row and the standard columns

    TradeID, PortfolioID, ProductClass, RiskType, Qualifier, Bucket, Label1, Label2,
    Amount, AmountCurrency, AmountUSD

(ISDA CRIF specification; ISDA SIMM Methodology section C defines the sensitivities). SIMM needs
the amount in USD: a row gives ``AmountUSD``, or ``Amount`` and ``AmountCurrency`` with an FX
rate to USD supplied by the caller (an amount already in USD needs none). ``TradeID`` and
``PortfolioID`` are optional; other columns (ORE's ``collect_regulations``, ...) are ignored
with one warning.

Only the risk types of the products xvaflow prices are accepted (interest rate incl. inflation
and cross-currency basis, FX, equity: delta and vega). Credit, commodity and base-correlation
risk types, and the SIMM add-on parameters (``Param_*``, ``Notional``, ``PV``), are refused by
name: a CRIF with them would give a SIMM that silently leaves part of the margin out.

Every bad field is one :class:`~xvaflow.core.errors.Problem` naming file, row and field; the
reader collects all of them and raises one :class:`~xvaflow.core.errors.InputError`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from xvaflow.core.errors import Problem, ProblemLog
from xvaflow.core.fields import FieldReader
from xvaflow.io.tables import AnyColumns, read_csv

CRIF_COLUMNS = ("TradeID", "PortfolioID", "ProductClass", "RiskType", "Qualifier", "Bucket",
                "Label1", "Label2", "Amount", "AmountCurrency", "AmountUSD")
"""The standard CRIF columns, in the order :func:`crif_csv` writes them."""

REQUIRED_COLUMNS = ("ProductClass", "RiskType", "Qualifier", "Bucket", "Label1", "Label2")
"""Columns every CRIF must have (amount columns: AmountUSD, or Amount and AmountCurrency)."""

PRODUCT_CLASSES = ("RatesFX", "Credit", "Equity", "Commodity")
"""SIMM product classes (methodology B.6). Any of them may carry interest-rate, FX or equity
risk (an equity option's discounting delta is Risk_IRCurve in product class Equity)."""

IR_DELTA_TYPES = ("Risk_IRCurve", "Risk_Inflation", "Risk_XCcyBasis")
IR_VEGA_TYPES = ("Risk_IRVol", "Risk_InflationVol")
SUPPORTED_RISK_TYPES = (*IR_DELTA_TYPES, *IR_VEGA_TYPES, "Risk_FX", "Risk_FXVol",
                        "Risk_Equity", "Risk_EquityVol")
"""Risk types the calculator handles: the risk classes interest rate, FX and equity."""

REFUSED_RISK_TYPES: Mapping[str, str] = {
    "Risk_CreditQ": "credit (qualifying) delta",
    "Risk_CreditNonQ": "credit (non-qualifying) delta",
    "Risk_CreditVol": "credit (qualifying) vega",
    "Risk_CreditVolNonQ": "credit (non-qualifying) vega",
    "Risk_BaseCorr": "credit base correlation",
    "Risk_Commodity": "commodity delta",
    "Risk_CommodityVol": "commodity vega",
    "Param_ProductClassMultiplier": "a SIMM add-on (product class multiplier)",
    "Param_AddOnNotionalFactor": "a SIMM add-on (notional factor)",
    "Param_AddOnFixedAmount": "a SIMM add-on (fixed amount)",
    "Notional": "a SIMM add-on (notional)",
    "PV": "a present value, not a sensitivity",
}
"""Standard CRIF risk types that are refused, with what they are."""

TENORS = ("2w", "1m", "3m", "6m", "1y", "2y", "3y", "5y", "10y", "15y", "20y", "30y")
"""SIMM tenor labels (Label1) of interest-rate delta and of every vega (methodology C)."""

SUB_CURVES = ("OIS", "Libor1m", "Libor3m", "Libor6m", "Libor12m", "Prime", "Municipal")
"""Interest-rate sub-curves (Label2 of Risk_IRCurve)."""

EQUITY_BUCKETS = (*(str(b) for b in range(1, 13)), "Residual")
"""Equity buckets (methodology section G); the CRIF producer assigns them."""

IR_BUCKETS = ("1", "2", "3")
"""Interest-rate volatility groups a CRIF may name in Bucket (SIMM derives it from the
currency; see :mod:`xvaflow.margin.simm`)."""

AMOUNT_MAX = 1e18
"""Larger sensitivities are typing errors (a USD 10^18 PV01 is beyond any book)."""


@dataclass(frozen=True, slots=True)
class CrifRecord:
    """One CRIF row, validated.

    Attributes:
        product_class: one of :data:`PRODUCT_CLASSES`.
        risk_type: one of :data:`SUPPORTED_RISK_TYPES`.
        qualifier: currency (IR, FX), currency pair such as ``EURUSD`` (FX vega), or the issuer
            / index identifier (equity).
        bucket: equity bucket; for interest rates the CRIF's volatility group, if given (SIMM
            uses the group of the currency); empty for FX.
        label1: tenor (IR delta, all vegas), else empty.
        label2: sub-curve (Risk_IRCurve), else empty.
        amount_usd: the sensitivity in USD (IR delta: per basis point; FX and equity delta: per
            1% relative shift; vega: vega times implied volatility, methodology C).
        amount: the sensitivity in ``amount_currency``, when the CRIF gave it.
        amount_currency: currency of ``amount`` (empty when not given).
        trade_id: the trade, when the CRIF names it.
        portfolio_id: the portfolio (netting set), when the CRIF names it.
    """

    product_class: str
    risk_type: str
    qualifier: str
    bucket: str
    label1: str
    label2: str
    amount_usd: float
    amount: float | None = None
    amount_currency: str = ""
    trade_id: str = ""
    portfolio_id: str = ""


@dataclass(frozen=True, slots=True)
class Crif:
    """A CRIF file read: its records in file order, and the warnings found while reading."""

    records: tuple[CrifRecord, ...]
    warnings: tuple[Problem, ...] = ()

    def __iter__(self) -> Iterator[CrifRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


def read_crif(path: str | Path, *, fx_to_usd: Mapping[str, float] | None = None,
              name: str | None = None) -> Crif:
    """Read and validate a CRIF CSV file.

    Args:
        path: the CRIF file.
        fx_to_usd: USD per unit of each currency (``{"EUR": 1.08}``), used for rows that give
            ``Amount`` and ``AmountCurrency`` but no ``AmountUSD``.
        name: file name shown in problems (default: the file's name).

    Returns:
        The records and the warnings.

    Raises:
        InputError: one problem per bad field (file, row, field), all of them.
    """
    log = ProblemLog()
    records = load_crif(Path(path), log, fx_to_usd=fx_to_usd, name=name)
    log.raise_if_any()
    return Crif(tuple(records), tuple(log.warnings))


def load_crif(path: Path, log: ProblemLog, *, fx_to_usd: Mapping[str, float] | None = None,
              name: str | None = None) -> list[CrifRecord]:
    """Like :func:`read_crif`, but problems and warnings go to ``log`` (nothing is raised)."""
    name = name or path.name
    # every column accepted: the reader warns once about all ignored columns itself
    rows = read_csv(path, log, REQUIRED_COLUMNS, AnyColumns(CRIF_COLUMNS), name=name)
    if rows is None:
        return []
    header = list(rows[0][1]) if rows else _header(path)
    if "AmountUSD" not in header and not {"Amount", "AmountCurrency"} <= set(header):
        log.add(name, 1, "AmountUSD", "the CRIF needs an AmountUSD column, or Amount and "
                "AmountCurrency columns (with FX rates to USD)")
        return []
    extra = [c for c in header if c and c not in CRIF_COLUMNS]
    if extra:
        hints = [f"{c!r} (did you mean {h!r}? column names are case-sensitive)"
                 if (h := _case_hint(c, CRIF_COLUMNS)) else repr(c) for c in extra]
        log.warn(name, 1, None, f"columns {', '.join(hints)} are not CRIF columns, ignored")
    rates = {k.upper(): float(v) for k, v in (fx_to_usd or {}).items()}
    out: list[CrifRecord] = []
    for row, values in rows:
        record = _record(FieldReader(values, log, name, row,
                                     key=(values.get("TradeID") or "").strip() or None), rates)
        if record is not None:
            out.append(record)
    return out


def _header(path: Path) -> list[str]:
    """Header of a CRIF without data rows (read_csv returned no rows to take it from)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [h.strip() for h in next(csv.reader(fh), [])]


def _case_hint(column: str, known: Iterable[str]) -> str | None:
    return next((k for k in known if k.lower() == column.strip().lower()), None)


def _record(r: FieldReader, rates: Mapping[str, float]) -> CrifRecord | None:
    """One row; None (after recording the problems) when it is not valid."""
    risk_type = r.raw("RiskType")
    if risk_type is None:
        r.problem("RiskType", "is required but empty")
        return None
    canonical = _canonical(risk_type, (*SUPPORTED_RISK_TYPES, *REFUSED_RISK_TYPES))
    if canonical is not None and canonical in REFUSED_RISK_TYPES:
        # The other fields follow rules of the risk type: one problem for the row is enough.
        r.problem("RiskType", f"{risk_type!r} ({REFUSED_RISK_TYPES[canonical]}) is not "
                  "supported: xvaflow's SIMM covers the interest-rate, FX and equity risk "
                  f"classes only ({', '.join(SUPPORTED_RISK_TYPES)})")
        return None
    if canonical is None:
        r.problem("RiskType", f"unknown risk type {risk_type!r}; expected one of "
                  f"{', '.join(SUPPORTED_RISK_TYPES)}")
        return None
    rt = canonical
    product_class = r.choice("ProductClass", PRODUCT_CLASSES, what="product class")
    qualifier = _qualifier(r, rt)
    bucket = _bucket(r, rt)
    label1 = label2 = ""
    if rt in ("Risk_IRCurve", *IR_VEGA_TYPES, "Risk_FXVol", "Risk_EquityVol"):
        label1 = r.choice("Label1", TENORS, what="tenor") or ""
    else:
        r.forbid(["Label1"], f"for {rt}")
    if rt == "Risk_IRCurve":
        label2 = r.choice("Label2", SUB_CURVES, what="sub-curve") or ""
    else:
        r.forbid(["Label2"], f"for {rt}")
    amount_usd, amount, currency = _amount(r, rates)
    if not r.ok or product_class is None or qualifier is None or amount_usd is None:
        return None
    return CrifRecord(product_class, rt, qualifier, bucket, label1, label2, amount_usd, amount,
                      currency, r.raw("TradeID") or "", r.raw("PortfolioID") or "")


def _canonical(value: str, options: Iterable[str]) -> str | None:
    """``value`` as spelt in ``options``, matched case-insensitively (CRIFs differ in case)."""
    return next((o for o in options if o.lower() == value.lower()), None)


def _is_currency(code: str) -> bool:
    return len(code) == 3 and code.isascii() and code.isalpha()


def _qualifier(r: FieldReader, rt: str) -> str | None:
    text = r.text("Qualifier")
    if text is None:
        return None
    if rt in (*IR_DELTA_TYPES, *IR_VEGA_TYPES, "Risk_FX"):
        if not _is_currency(text):
            r.problem("Qualifier", f"{text!r} is not a currency code (three letters, e.g. USD)")
            return None
        return text.upper()
    if rt == "Risk_FXVol":
        pair = text.upper()
        if not (len(pair) == 6 and _is_currency(pair[:3]) and _is_currency(pair[3:])
                and pair[:3] != pair[3:]):
            r.problem("Qualifier", f"{text!r} is not a currency pair (six letters of two "
                      "different currencies, e.g. EURUSD)")
            return None
        return pair
    return text


def _bucket(r: FieldReader, rt: str) -> str:
    if rt in ("Risk_Equity", "Risk_EquityVol"):
        return r.choice("Bucket", EQUITY_BUCKETS, what="equity bucket") or ""
    if rt in (*IR_DELTA_TYPES, *IR_VEGA_TYPES):
        # SIMM takes the volatility group from the currency; the CRIF's is kept for reference.
        return r.choice("Bucket", IR_BUCKETS, required=False, what="interest-rate bucket") or ""
    r.forbid(["Bucket"], f"for {rt}")
    return ""


def _amount(r: FieldReader, rates: Mapping[str, float]) -> tuple[float | None, float | None, str]:
    """(AmountUSD, Amount, AmountCurrency) of a row; AmountUSD None after a problem."""
    amount = r.number("Amount", required=False, lower=-AMOUNT_MAX, upper=AMOUNT_MAX)
    currency = (r.raw("AmountCurrency") or "").upper()
    if currency and not _is_currency(currency):
        r.problem("AmountCurrency", f"{currency!r} is not a currency code (three letters)")
        currency = ""
    if r.has("AmountUSD"):
        return r.number("AmountUSD", lower=-AMOUNT_MAX, upper=AMOUNT_MAX), amount, currency
    if amount is None:
        field = "AmountUSD" if "AmountUSD" in r.values else "Amount"
        if r.ok:
            r.problem(field, "is required but empty (give AmountUSD, or Amount and "
                      "AmountCurrency)")
        return None, None, currency
    if not currency:
        r.problem("AmountCurrency", "is required with Amount when AmountUSD is empty")
        return None, amount, currency
    if currency == "USD":
        return amount, amount, currency
    rate = rates.get(currency)
    if rate is None:
        r.problem("AmountCurrency", f"no FX rate to USD for {currency} (give AmountUSD, or "
                  "an FX rate for the currency)")
        return None, amount, currency
    return amount * rate, amount, currency


def crif_csv(records: Iterable[CrifRecord]) -> str:
    """The records as CRIF CSV text with the standard columns (:data:`CRIF_COLUMNS`).

    Amounts are written with ``repr`` so that reading the text back gives the same floats.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CRIF_COLUMNS)
    for c in records:
        w.writerow([c.trade_id, c.portfolio_id, c.product_class, c.risk_type, c.qualifier,
                    c.bucket, c.label1, c.label2,
                    "" if c.amount is None else repr(c.amount), c.amount_currency,
                    repr(c.amount_usd)])
    return buf.getvalue()
