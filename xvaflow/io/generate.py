"""Synthetic bank portfolio: ``xvaflow generate`` (CONTRACT.md, "Portfolio directory").

:func:`generate_portfolio` writes a complete, valid portfolio directory (``market.json``,
``counterparties.csv``, ``netting_sets.csv``, ``csas.csv``, ``trades.csv``, ``run.json``, and
``history/``: a year of daily par quotes per currency for CCP margin) that looks like the
derivatives book of a mid-sized dealer in late 2026. Benchmarks, demos and tests
use it, so it is deterministic (one :func:`numpy.random.default_rng` stream, PCG64, seeded by
``seed``: the same arguments give byte-identical files) and fast (vectorised where the work
scales with the number of trades; 20,000 trades take a few seconds).

What is drawn, and why
----------------------
Market (``market.json``)
    OIS par curves (deposits 1M-6M, OIS swaps 1Y-30Y) for USD, EUR, GBP, JPY and CHF around
    late-2026 levels (USD ~3.5-3.9%, EUR ~2-2.9%, GBP ~3.8-4.3%, JPY ~0.6-1.9%, CHF ~0.2-0.9%,
    humped or upward sloping), moved by a small seed-dependent parallel shift (sd 5bp) and tilt
    (sd 5bp at 30Y) so that different seeds are different days. Term-index basis for
    EURIBOR-3M/6M and USD-TERM-3M; FX spots and lognormal vols of EURUSD, GBPUSD, USDJPY,
    USDCHF (spots lognormal around their anchors, sd 1%); SPX, EUROSTOXX and NIKKEI (spot,
    currency, dividend yield, vol); normal swaption vol grids (expiry 1M-10Y x tenor 1Y-30Y,
    humped in expiry, decreasing in tenor); Hull-White parameters consistent with those vols;
    a full correlation block over the IR_*, FX_* and EQ_* factors (checked positive definite);
    own credit as a CDS curve of an A-rated bank; funding spreads.
Counterparties (``counterparties.csv``)
    Types (banks, insurers, asset managers, pension funds, hedge funds, sovereigns, corporates
    in nine sectors, and emerging-market sovereigns, banks and corporates whose ``sector``
    starts with ``EM``) with type-dependent rating distributions on the 17 notches AAA..CCC.
    Credit buckets: EM (the EM types), IG (BBB- or better) and HY. The 5Y CDS spread is a
    rating-table level times a lognormal name effect (sd 0.25), clipped to the bucket's range
    (IG 20-130bp, HY 200-800bp, EM 100-500bp); the curve across 6M..10Y is upward sloping
    (steeper for IG, flatter for HY, strictly increasing so it always bootstraps to
    non-negative hazards). About 10% of names carry a flat ``hazard_rate`` (spread / LGD)
    instead, as for proxied names without a liquid CDS. Recoveries 0.4 (IG), 0.25-0.4 (HY),
    0.25-0.3 (EM). Sizes are heavy tailed: trade counts are multinomial on Pareto(1.2)
    weights (capped at 4% of a large book), so a few counterparties hold hundreds of trades.
Netting sets and CSAs (``netting_sets.csv``, ``csas.csv``)
    ``1 + floor(log2.5(trades / 15))`` netting sets per counterparty (1 to 6), so large
    counterparties have several. Each netting set draws a CSA type with type-dependent
    probabilities: none (corporates, sovereigns), VM two-way zero threshold (banks, funds),
    VM with rating-dependent thresholds and MTA, or VM plus SIMM initial margin (banks and
    funds in scope of the uncleared-margin rules). Hedge funds post an independent amount.
    MPOR 10 business days, 20 for netting sets above 5,000 trades and ~10% of the others
    (disputes, illiquid collateral).
Trades (``trades.csv``)
    Product mix by largest-remainder allocation, then shuffled: 70% IRS, 8% FXFWD, 5% FXOPT,
    6% SWAPTION, 2% EQFWD, 4% EQOPT, 5% CCS. Notionals are lognormal in base-currency
    equivalent (medians 5M-50M by product), clipped to 1M-500M USD equivalent and rounded to
    two significant figures in the trade currency (a JPY swap of 4.7bn JPY is ~31M USD). Trade
    currency: the counterparty's home currency half the time, else the book's currency mix.

    - IRS on every overnight index and on EURIBOR-3M/6M and USD-TERM-3M, with market
      conventions per index; 60% seasoned (start in the past, uniformly within the life),
      28% spot starting, 12% forward starting; tenors 1Y-30Y weighted towards 2Y-10Y; residual
      maturity at most 30 years (plus the spot lag). Fixed rates are the par rates of the
      generated curves (priced with xvaflow itself), plus, for seasoned trades, a drift of sd
      25bp x sqrt(years since trade) scaled by the currency's rate volatility, so NPVs are a
      realistic fraction of notional. ``last_fixing`` is set exactly when the floating period
      in progress at as_of started before it (found with
      :func:`~xvaflow.core.schedule.backward_schedules`, the rule compilation uses): the short
      rate of the curve plus the move since the period start (and the basis for term indices).
    - FXFWD / FXOPT on the four USD pairs; strikes at the covered-interest-parity forward
      (seasoned forwards off-market by their FX move since trade date); options struck within
      about one standard deviation of the forward, expiries 1M-2Y, settlement two business days
      after expiry.
    - SWAPTION: expiries 3M-10Y, underlying starting two business days after expiry (so
      ``start_date >= expiry_date``), tenors up to 30 years minus expiry, physical and cash
      settlement, strikes at the forward par rate +- a normal offset of sd 40bp.
    - EQFWD / EQOPT on SPX, EUROSTOXX, NIKKEI, expiring on third Fridays 1M-5Y out; forwards
      struck near the forward, options on a 80%-120% moneyness grid.
    - CCS: float-float (overnight legs, with a cross-currency basis spread on the non-USD leg),
      fixed-fixed and fixed-float; 80% against USD, the rest EUR crosses; ``notional_2`` is
      ``notional`` times the spot (the FX rate at trade date for seasoned trades, drawn around
      today's spot, at most 35% away in log terms).

The generator writes no holidays, so every calendar is weekends only. ``run.json`` asks for
10,000 paths on a quarterly grid to 30 years.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from xvaflow.core.calendar import WEEKENDS
from xvaflow.core.dates import add_months, year_fraction_365
from xvaflow.core.errors import ProblemLog
from xvaflow.core.schedule import backward_schedules
from xvaflow.io.columns import CDS_COLUMNS
from xvaflow.io.history import HISTORY_DIR
from xvaflow.io.market_json import market_from_json
from xvaflow.market.conventions import INDICES, OVERNIGHT_INDEX
from xvaflow.market.market import Market
from xvaflow.pricing.t0 import price_t0
from xvaflow.products.records import FixedLeg, FloatLeg, SwapTrade, TradeInfo
from xvaflow.products.registry import compile_portfolio

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
DateArray = npt.NDArray[np.datetime64]

BASE = "USD"
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF")
CURRENCY_MIX = np.array([0.40, 0.30, 0.12, 0.10, 0.08])
"""Share of each currency in the book (trade currency when not the counterparty's own)."""
PAIRS = ("EURUSD", "GBPUSD", "USDJPY", "USDCHF")
EQUITY_NAMES = ("SPX", "EUROSTOXX", "NIKKEI")

PRODUCT_MIX: dict[str, float] = {"IRS": 0.70, "FXFWD": 0.08, "FXOPT": 0.05, "SWAPTION": 0.06,
                                 "EQFWD": 0.02, "EQOPT": 0.04, "CCS": 0.05}

TRADE_COLUMNS = (
    "trade_id", "version", "netting_set_id", "product", "direction", "notional", "currency",
    "start_date", "maturity_date", "fixed_rate", "fixed_frequency", "fixed_daycount",
    "float_index", "float_frequency", "float_spread", "float_daycount", "last_fixing",
    "currency_2", "notional_2", "fixed_rate_2", "fixed_frequency_2", "fixed_daycount_2",
    "float_index_2", "float_frequency_2", "float_spread_2", "float_daycount_2", "last_fixing_2",
    "buy_currency", "buy_amount", "sell_currency", "sell_amount", "expiry_date", "settlement",
    "direction_underlying", "underlying", "quantity", "strike", "option_type",
)
CPTY_COLUMNS = ("counterparty_id", "name", "recovery", "rating", "sector", "hazard_rate",
                *CDS_COLUMNS)
NETTING_COLUMNS = ("netting_set_id", "counterparty_id", "csa_id")
CSA_COLUMNS = ("csa_id", "threshold_cpty", "threshold_own", "mta", "independent_amount",
               "mpor_days", "currency", "im_model")

# ---------------------------------------------------------------------------------------------
# Market anchors (late 2026)
# ---------------------------------------------------------------------------------------------
DEPOSIT_TENORS = ("1M", "3M", "6M")
SWAP_YEARS = (1, 2, 3, 4, 5, 7, 10, 12, 15, 20, 25, 30)
# Percent: deposits 1M, 3M, 6M, then OIS swaps at SWAP_YEARS.
CURVE_ANCHORS: dict[str, tuple[float, ...]] = {
    "USD": (3.85, 3.80, 3.72, 3.60, 3.50, 3.48, 3.49, 3.52, 3.62, 3.75, 3.81, 3.89, 3.94, 3.92,
            3.86),
    "EUR": (1.95, 1.97, 2.00, 2.05, 2.15, 2.25, 2.33, 2.40, 2.52, 2.68, 2.75, 2.82, 2.86, 2.84,
            2.77),
    "GBP": (3.95, 3.90, 3.85, 3.80, 3.78, 3.80, 3.84, 3.89, 3.97, 4.08, 4.14, 4.22, 4.27, 4.24,
            4.15),
    "JPY": (0.55, 0.60, 0.66, 0.72, 0.82, 0.92, 1.01, 1.10, 1.28, 1.50, 1.60, 1.73, 1.85, 1.90,
            1.92),
    "CHF": (0.20, 0.21, 0.23, 0.26, 0.30, 0.35, 0.40, 0.46, 0.56, 0.69, 0.74, 0.80, 0.86, 0.87,
            0.85),
}
# How much higher short rates were a year before as_of (easing cycle; JPY has been hiking).
RATE_DRIFT_PER_YEAR = {"USD": 0.006, "EUR": 0.002, "GBP": 0.006, "JPY": -0.003, "CHF": 0.002}
INDEX_BASIS = {"EUR-EURIBOR-3M": 0.0010, "EUR-EURIBOR-6M": 0.0018, "USD-TERM-3M": 0.0012}
FX_ANCHORS = {"EURUSD": (1.16, 0.075), "GBPUSD": (1.33, 0.085), "USDJPY": (150.0, 0.100),
              "USDCHF": (0.80, 0.080)}  # spot, lognormal vol
# Long-dated FX vols rise with the rates' share of the forward's variance.
FX_VOL_RISE = (("1Y", 0.0), ("5Y", 0.005), ("10Y", 0.015), ("30Y", 0.045))


def fx_vol_term_structure(vol: float) -> dict[str, float]:
    """Implied vols by expiry from a 1Y level (the rise of :data:`FX_VOL_RISE`)."""
    return {tenor: round(vol + rise, 4) for tenor, rise in FX_VOL_RISE}

SIMM_INDEX_BUCKET = 11  # ISDA SIMM equity bucket of indices, funds and ETFs
EQUITY_ANCHORS = {  # spot, currency, dividend yield, vol, strike grid step
    "SPX": (6800.0, "USD", 0.0125, 0.17, 25.0),
    "EUROSTOXX": (5700.0, "EUR", 0.0300, 0.18, 25.0),
    "NIKKEI": (50000.0, "JPY", 0.0180, 0.21, 250.0),
}
# Normal swaption vol level (bp) and Hull-White mean reversion per currency.
SWAPTION_LEVEL_BP = {"USD": 100.0, "EUR": 80.0, "GBP": 95.0, "JPY": 45.0, "CHF": 55.0}
HW_MEAN_REVERSION = {"USD": 0.030, "EUR": 0.025, "GBP": 0.030, "JPY": 0.020, "CHF": 0.020}
SWAPTION_EXPIRIES = (("1M", 1 / 12), ("3M", 0.25), ("6M", 0.5), ("1Y", 1.0), ("2Y", 2.0),
                     ("5Y", 5.0), ("10Y", 10.0))
SWAPTION_TENORS = (("1Y", 1.0), ("2Y", 2.0), ("5Y", 5.0), ("10Y", 10.0), ("30Y", 30.0))

FACTORS = ("IR_USD", "IR_EUR", "IR_GBP", "IR_JPY", "IR_CHF", "FX_EURUSD", "FX_GBPUSD",
           "FX_USDJPY", "FX_USDCHF", "EQ_SPX", "EQ_EUROSTOXX", "EQ_NIKKEI")
# Upper triangle of the correlation matrix, row by row in FACTORS order (pairs not listed: 0).
# Rates co-move strongly within Europe and with the US, less with JPY; a higher domestic rate
# strengthens the currency (FX quoted as foreign/domestic); risk-on equity rallies come with
# higher rates and a weaker yen (USDJPY up with the Nikkei).
CORRELATIONS: dict[tuple[str, str], float] = {
    ("IR_USD", "IR_EUR"): 0.60, ("IR_USD", "IR_GBP"): 0.65, ("IR_USD", "IR_JPY"): 0.35,
    ("IR_USD", "IR_CHF"): 0.45, ("IR_EUR", "IR_GBP"): 0.65, ("IR_EUR", "IR_JPY"): 0.35,
    ("IR_EUR", "IR_CHF"): 0.70, ("IR_GBP", "IR_JPY"): 0.30, ("IR_GBP", "IR_CHF"): 0.50,
    ("IR_JPY", "IR_CHF"): 0.35,
    ("FX_EURUSD", "FX_GBPUSD"): 0.65, ("FX_EURUSD", "FX_USDJPY"): -0.40,
    ("FX_EURUSD", "FX_USDCHF"): -0.85, ("FX_GBPUSD", "FX_USDJPY"): -0.30,
    ("FX_GBPUSD", "FX_USDCHF"): -0.55, ("FX_USDJPY", "FX_USDCHF"): 0.45,
    ("EQ_SPX", "EQ_EUROSTOXX"): 0.70, ("EQ_SPX", "EQ_NIKKEI"): 0.55,
    ("EQ_EUROSTOXX", "EQ_NIKKEI"): 0.55,
    ("IR_USD", "FX_EURUSD"): -0.25, ("IR_USD", "FX_GBPUSD"): -0.20,
    ("IR_USD", "FX_USDJPY"): 0.30, ("IR_USD", "FX_USDCHF"): 0.20,
    ("IR_EUR", "FX_EURUSD"): 0.20, ("IR_EUR", "FX_GBPUSD"): 0.05,
    ("IR_EUR", "FX_USDJPY"): 0.10, ("IR_EUR", "FX_USDCHF"): -0.15,
    ("IR_GBP", "FX_EURUSD"): 0.05, ("IR_GBP", "FX_GBPUSD"): 0.20,
    ("IR_GBP", "FX_USDJPY"): 0.10, ("IR_GBP", "FX_USDCHF"): -0.05,
    ("IR_JPY", "FX_EURUSD"): 0.05, ("IR_JPY", "FX_USDJPY"): -0.20,
    ("IR_CHF", "FX_EURUSD"): 0.10, ("IR_CHF", "FX_GBPUSD"): 0.05,
    ("IR_CHF", "FX_USDJPY"): 0.05, ("IR_CHF", "FX_USDCHF"): -0.15,
    ("IR_USD", "EQ_SPX"): 0.20, ("IR_USD", "EQ_EUROSTOXX"): 0.15, ("IR_USD", "EQ_NIKKEI"): 0.10,
    ("IR_EUR", "EQ_SPX"): 0.15, ("IR_EUR", "EQ_EUROSTOXX"): 0.20, ("IR_EUR", "EQ_NIKKEI"): 0.10,
    ("IR_GBP", "EQ_SPX"): 0.15, ("IR_GBP", "EQ_EUROSTOXX"): 0.15, ("IR_GBP", "EQ_NIKKEI"): 0.10,
    ("IR_JPY", "EQ_SPX"): 0.10, ("IR_JPY", "EQ_EUROSTOXX"): 0.10, ("IR_JPY", "EQ_NIKKEI"): 0.15,
    ("IR_CHF", "EQ_SPX"): 0.10, ("IR_CHF", "EQ_EUROSTOXX"): 0.15, ("IR_CHF", "EQ_NIKKEI"): 0.05,
    ("FX_EURUSD", "EQ_SPX"): 0.10, ("FX_EURUSD", "EQ_EUROSTOXX"): -0.10,
    ("FX_EURUSD", "EQ_NIKKEI"): 0.05, ("FX_GBPUSD", "EQ_SPX"): 0.10,
    ("FX_GBPUSD", "EQ_NIKKEI"): 0.05, ("FX_USDJPY", "EQ_SPX"): 0.25,
    ("FX_USDJPY", "EQ_EUROSTOXX"): 0.20, ("FX_USDJPY", "EQ_NIKKEI"): 0.45,
    ("FX_USDCHF", "EQ_SPX"): 0.10, ("FX_USDCHF", "EQ_EUROSTOXX"): 0.15,
    ("FX_USDCHF", "EQ_NIKKEI"): 0.10,
}
OWN_CDS_BP = {"6M": 30.0, "1Y": 36.0, "2Y": 44.0, "3Y": 51.0, "5Y": 63.0, "7Y": 72.0,
              "10Y": 82.0}

# ---------------------------------------------------------------------------------------------
# Counterparty anchors
# ---------------------------------------------------------------------------------------------
RATINGS = ("AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-",
           "B+", "B", "B-", "CCC")
IG_LAST = RATINGS.index("BBB-")
# 5Y CDS level (bp) per notch for developed-market names.
SPREAD_5Y_BP = np.array([18, 24, 30, 38, 46, 56, 68, 82, 100, 125, 210, 260, 320, 400, 480, 580,
                         750], dtype=np.float64)
BUCKET_RANGE_BP = {"IG": (20.0, 130.0), "HY": (200.0, 800.0), "EM": (100.0, 500.0)}
# Spread at each CDS tenor relative to 5Y (6M, 1Y, 2Y, 3Y, 5Y, 7Y, 10Y), strictly increasing.
TERM_SHAPE = {"IG": np.array([0.42, 0.52, 0.68, 0.81, 1.0, 1.10, 1.20]),
              "HY": np.array([0.70, 0.76, 0.85, 0.92, 1.0, 1.03, 1.06]),
              "EM": np.array([0.55, 0.63, 0.76, 0.87, 1.0, 1.06, 1.12])}


@dataclass(frozen=True)
class _CptyType:
    """A counterparty type: sector labels, rating distribution, CSA habits, size factor.

    ``csa`` are the probabilities of none / VM zero threshold / VM thresholds+MTA / VM+IM.
    """

    sectors: tuple[str, ...]
    share: float
    rating_mean: float  # notch index into RATINGS
    rating_sd: float
    csa: tuple[float, float, float, float]
    size: float  # multiplies the Pareto size weight
    forms: tuple[str, ...]
    emerging: bool = False


CPTY_TYPES: tuple[_CptyType, ...] = (
    _CptyType(("Banks",), 0.16, 5.0, 1.6, (0.02, 0.50, 0.08, 0.40), 3.0,
              ("Bank", "Banking Group", "Bancorp")),
    _CptyType(("Insurance",), 0.06, 4.0, 1.5, (0.05, 0.60, 0.15, 0.20), 1.5,
              ("Assurance", "Insurance", "Re")),
    _CptyType(("Asset Managers",), 0.08, 3.5, 1.5, (0.05, 0.60, 0.10, 0.25), 1.5,
              ("Asset Management", "Investors", "Capital Management")),
    _CptyType(("Pension Funds",), 0.04, 2.5, 1.2, (0.05, 0.65, 0.10, 0.20), 1.5,
              ("Pension Fund", "Retirement Plan")),
    _CptyType(("Hedge Funds",), 0.06, 10.0, 1.8, (0.0, 0.60, 0.0, 0.40), 1.2,
              ("Master Fund", "Capital Partners", "Opportunities Fund")),
    _CptyType(("Sovereigns & Supranationals",), 0.03, 1.0, 1.2, (0.60, 0.10, 0.30, 0.0), 2.0,
              ("Treasury", "Development Bank", "Export Finance")),
    _CptyType(("Industrials", "Energy", "Utilities", "Technology", "Consumer", "Healthcare",
               "Real Estate", "Telecommunications", "Materials"), 0.49, 8.0, 2.8,
              (0.60, 0.05, 0.35, 0.0), 0.8, ("Holdings", "Group", "Industries", "Corporation")),
    _CptyType(("EM Sovereigns",), 0.02, 10.0, 1.8, (0.55, 0.10, 0.35, 0.0), 1.5,
              ("Ministry of Finance", "Treasury"), emerging=True),
    _CptyType(("EM Banks",), 0.04, 9.5, 1.8, (0.40, 0.20, 0.40, 0.0), 1.0,
              ("Bank", "Banco"), emerging=True),
    _CptyType(("EM Corporates",), 0.02, 10.5, 2.0, (0.55, 0.05, 0.40, 0.0), 0.8,
              ("Holdings", "Group"), emerging=True),
)
NAME_STEMS = (
    "Aldebaran", "Borealis", "Cobalt", "Dunmore", "Everton", "Falkner", "Greystone", "Halcyon",
    "Ironbridge", "Juniper", "Kestrel", "Larkspur", "Meridian", "Northgate", "Oakhurst",
    "Pinnacle", "Quayside", "Redwood", "Sterling", "Thornbury", "Umbra", "Vantage", "Westmark",
    "Yarrow", "Zephyr", "Altamira", "Bellhaven", "Castellan", "Drummond", "Elmstead", "Fairholm",
    "Glenrock", "Harrowgate", "Islington", "Kingsway", "Lindqvist", "Montclair", "Norrland",
    "Orchard", "Pemberton", "Rheinfeld", "Sakura", "Tavistock", "Valmont", "Whitfield",
)
LEGAL_FORM = {"USD": "Inc", "EUR": "SE", "GBP": "plc", "JPY": "KK", "CHF": "AG"}


# ---------------------------------------------------------------------------------------------
# Swap conventions per index
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Convention:
    """Market conventions of a vanilla swap on ``index``: fixed leg then floating leg."""

    index: str
    fixed_months: int
    fixed_daycount: str
    float_months: int
    float_daycount: str


_FREQ_WORD = {1: "monthly", 3: "quarterly", 6: "semiannual", 12: "annual"}
IRS_CONVENTIONS: dict[str, tuple[tuple[_Convention, float], ...]] = {
    "USD": ((_Convention("USD-SOFR", 12, "ACT/360", 12, "ACT/360"), 0.75),
            (_Convention("USD-TERM-3M", 6, "30/360", 3, "ACT/360"), 0.25)),
    "EUR": ((_Convention("EUR-ESTR", 12, "ACT/360", 12, "ACT/360"), 0.40),
            (_Convention("EUR-EURIBOR-6M", 12, "30/360", 6, "ACT/360"), 0.40),
            (_Convention("EUR-EURIBOR-3M", 12, "30/360", 3, "ACT/360"), 0.20)),
    "GBP": ((_Convention("GBP-SONIA", 12, "ACT/365F", 12, "ACT/365F"), 1.0),),
    "JPY": ((_Convention("JPY-TONA", 12, "ACT/365F", 12, "ACT/365F"), 1.0),),
    "CHF": ((_Convention("CHF-SARON", 12, "ACT/360", 12, "ACT/360"), 1.0),),
}
CCS_FIXED_DAYCOUNT = {"USD": "ACT/360", "EUR": "30/360", "GBP": "ACT/365F", "JPY": "ACT/365F",
                      "CHF": "30/360"}
CCS_BASIS_BP = {"USD": 0.0, "EUR": -12.0, "GBP": -4.0, "JPY": -35.0, "CHF": -20.0}
CCS_PAIRS = (("EUR", "USD"), ("GBP", "USD"), ("JPY", "USD"), ("CHF", "USD"), ("EUR", "GBP"),
             ("EUR", "CHF"), ("EUR", "JPY"))
CCS_PAIR_WEIGHTS = np.array([0.35, 0.20, 0.15, 0.10, 0.10, 0.05, 0.05])


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _num(x: float, digits: int = 6) -> str:
    """Shortest text of ``x`` rounded to ``digits`` decimals (integers without a decimal point)."""
    r = round(float(x), digits)
    if r == int(r) and abs(r) < 1e15:
        return str(int(r))
    return repr(r)


def _iso(d: np.datetime64) -> str:
    return str(d.astype("datetime64[D]"))


def _round_sig(x: FloatArray, sig: int = 2) -> FloatArray:
    """Round to ``sig`` significant figures (positive values)."""
    step = 10.0 ** (np.floor(np.log10(x)) - (sig - 1))
    out: FloatArray = np.round(x / step) * step
    return out


def _largest_remainder(shares: Sequence[float], total: int) -> IntArray:
    """Integer counts proportional to ``shares`` that add up to ``total``."""
    raw = np.asarray(shares, dtype=np.float64) * total / float(np.sum(shares))
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _notionals(rng: np.random.Generator, n: int, median: float, sigma: float,
               to_base: FloatArray) -> FloatArray:
    """Trade-currency notionals: lognormal base-currency amounts clipped to [1M, 500M] and
    rounded to two significant figures in the trade currency (kept inside the range)."""
    base = np.clip(median * np.exp(sigma * rng.standard_normal(n)), 1e6, 5e8)
    local = base / to_base
    step = 10.0 ** (np.floor(np.log10(local)) - 1)
    out = np.round(local / step) * step
    out = np.where(out * to_base < 1e6, np.ceil(local / step) * step, out)
    out = np.where(out * to_base > 5e8, np.floor(local / step) * step, out)
    return out


def _third_friday(months: Any) -> DateArray:
    """Third Friday of each ``datetime64[M]`` month."""
    first = np.asarray(months, dtype="datetime64[M]").astype("datetime64[D]")
    weekday = (first.astype(np.int64) + 3) % 7  # Monday = 0 (1970-01-01 was a Thursday)
    out: DateArray = first + ((4 - weekday) % 7 + 14).astype("timedelta64[D]")
    return out


# ---------------------------------------------------------------------------------------------
# Market
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _MarketData:
    """The market document and the parsed :class:`Market` built from it."""

    doc: dict[str, Any]
    market: Market
    short_rate: dict[str, float]  # 3M deposit rate per currency (decimal)
    to_base: dict[str, float]


def correlation_matrix() -> FloatArray:
    """The full correlation matrix of :data:`FACTORS` written to market.json."""
    n = len(FACTORS)
    m = np.eye(n)
    for (a, b), rho in CORRELATIONS.items():
        i, j = FACTORS.index(a), FACTORS.index(b)
        m[i, j] = m[j, i] = rho
    return m


def _market_doc(rng: np.random.Generator, as_of: _dt.date) -> dict[str, Any]:
    """market.json contents: anchors moved by small seed-dependent shocks (see module doc)."""
    curves: dict[str, Any] = {}
    years = np.array(SWAP_YEARS, dtype=np.float64)
    for ccy in CURRENCIES:
        anchor = np.array(CURVE_ANCHORS[ccy]) / 100.0
        shift = 0.0005 * rng.standard_normal()
        tilt = 0.0005 * rng.standard_normal()
        dep = anchor[:3] + shift
        swp = anchor[3:] + shift + tilt * years / 30.0
        quotes = [{"type": "deposit", "tenor": t, "rate": round(float(r), 5)}
                  for t, r in zip(DEPOSIT_TENORS, dep, strict=True)]
        quotes += [{"type": "swap", "tenor": f"{y}Y", "rate": round(float(r), 5)}
                   for y, r in zip(SWAP_YEARS, swp, strict=True)]
        curves[ccy] = {"par_quotes": quotes}
    spots: dict[str, float] = {}
    for pair, (spot, _) in FX_ANCHORS.items():
        digits = 2 if pair.endswith("JPY") else 4
        spots[pair] = round(spot * math.exp(0.01 * rng.standard_normal()), digits)
    equities: dict[str, Any] = {}
    for name, (spot, ccy, q, vol, _) in EQUITY_ANCHORS.items():
        equities[name] = {"spot": round(spot * math.exp(0.03 * rng.standard_normal()), 1),
                          "currency": ccy, "dividend_yield": q, "vol": vol,
                          "simm_bucket": SIMM_INDEX_BUCKET}
    swaption_vols: dict[str, Any] = {}
    hull_white: dict[str, Any] = {}
    for ccy in CURRENCIES:
        level = SWAPTION_LEVEL_BP[ccy]
        grid: dict[str, dict[str, float]] = {}
        for e_name, e in SWAPTION_EXPIRIES:
            # Humped in expiry (peak around 1Y-2Y), decreasing with the swap tenor.
            hump = 1.0 + 0.08 * math.exp(-((math.log(e) - 0.4) ** 2)) - 0.04 * math.log1p(e / 5)
            grid[e_name] = {t_name: round(level * hump * (1.0 - 0.05 * math.log1p(t / 5)), 1)
                            for t_name, t in SWAPTION_TENORS}
        swaption_vols[ccy] = {"normal_bp": grid}
        hull_white[ccy] = {"mean_reversion": HW_MEAN_REVERSION[ccy],
                           "volatility": round(level * 0.95 / 1e4, 5)}
    corr = correlation_matrix()
    if float(np.linalg.eigvalsh(corr).min()) <= 0.0:  # static data: a bug if it ever fails
        raise AssertionError("generator correlation matrix is not positive definite")
    correlations = {f"{FACTORS[i]}:{FACTORS[j]}": float(corr[i, j])
                    for i in range(len(FACTORS)) for j in range(i + 1, len(FACTORS))}
    borrow = round(60.0 + 5.0 * rng.standard_normal(), 1)
    return {
        "as_of": as_of.isoformat(),
        "base_currency": BASE,
        "curves": curves,
        "index_basis": {k: round(v + 0.0001 * rng.standard_normal(), 5)
                        for k, v in INDEX_BASIS.items()},
        "fx_spots": spots,
        "fx_vols": {pair: fx_vol_term_structure(vol) for pair, (_, vol) in FX_ANCHORS.items()},
        "equities": equities,
        "swaption_vols": swaption_vols,
        "hull_white": hull_white,
        "correlations": correlations,
        "own_credit": {"cds_bp": OWN_CDS_BP, "recovery": 0.4},
        "funding": {"borrow_spread_bp": borrow, "lend_spread_bp": round(borrow - 20.0, 1)},
    }


def _build_market(rng: np.random.Generator, as_of: _dt.date) -> _MarketData:
    doc = _market_doc(rng, as_of)
    log = ProblemLog()
    market = market_from_json(doc, log)
    # An as_of on a weekend is the caller's choice and only warned about; anything else is ours.
    if market is None or log.problems or any(w.field != "as_of" for w in log.warnings):
        raise AssertionError("generated market.json is invalid: "
                             + "; ".join(str(p) for p in log.problems + log.warnings))
    short = {c: float(doc["curves"][c]["par_quotes"][1]["rate"]) for c in CURRENCIES}
    return _MarketData(doc, market, short, {c: market.fx_to_base[c] for c in CURRENCIES})


# ---------------------------------------------------------------------------------------------
# Counterparties, netting sets, CSAs
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Counterparties:
    ids: list[str]
    rows: list[dict[str, str]]
    type_idx: IntArray
    home: StrArray
    rating: IntArray
    weight: FloatArray


def _counterparties(rng: np.random.Generator, n: int) -> _Counterparties:
    """Counterparty records: type, rating, home currency, credit curve, name, size weight."""
    width = max(5, len(str(n)))
    ids = [f"CP{i + 1:0{width}d}" for i in range(n)]
    shares = np.array([t.share for t in CPTY_TYPES])
    type_idx = rng.choice(len(CPTY_TYPES), size=n, p=shares / shares.sum())
    mean = np.array([t.rating_mean for t in CPTY_TYPES])[type_idx]
    sd = np.array([t.rating_sd for t in CPTY_TYPES])[type_idx]
    rating = np.clip(np.rint(mean + sd * rng.standard_normal(n)), 0, len(RATINGS) - 1)
    rating = rating.astype(np.int64)
    emerging = np.array([t.emerging for t in CPTY_TYPES])[type_idx]
    home = np.where(emerging, "USD",
                    np.array(CURRENCIES)[rng.choice(len(CURRENCIES), size=n, p=CURRENCY_MIX)])
    bucket = np.where(emerging, "EM", np.where(rating <= IG_LAST, "IG", "HY"))
    # 5Y spread: rating level x name effect, EM names trade wider than their rating.
    s5 = SPREAD_5Y_BP[rating] * np.exp(0.25 * rng.standard_normal(n)) * np.where(emerging, 1.3,
                                                                                  1.0)
    lo = np.array([BUCKET_RANGE_BP[b][0] for b in bucket])
    hi = np.array([BUCKET_RANGE_BP[b][1] for b in bucket])
    s5 = np.clip(s5, lo, hi)
    curves = np.stack([TERM_SHAPE[b] for b in bucket]) * s5[:, None] if n else np.zeros((0, 7))
    u = rng.random(n)
    recovery = np.where(bucket == "IG", np.where(u < 0.9, 0.40, 0.35),
                        np.where(bucket == "HY", np.where(u < 0.5, 0.40,
                                                          np.where(u < 0.8, 0.35, 0.25)),
                                 np.where(u < 0.6, 0.25, 0.30)))
    recovery = np.where(rating == len(RATINGS) - 1, 0.25, recovery)
    flat = rng.random(n) < 0.10
    size = np.array([t.size for t in CPTY_TYPES])[type_idx]
    weight = (rng.pareto(1.2, n) + 1.0) * size
    stems = rng.integers(0, len(NAME_STEMS), size=n)
    forms = rng.random(n)
    sector_pick = rng.random(n)
    seen: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    for i in range(n):
        kind = CPTY_TYPES[type_idx[i]]
        sector = kind.sectors[int(sector_pick[i] * len(kind.sectors))]
        form = kind.forms[int(forms[i] * len(kind.forms))]
        stem = NAME_STEMS[stems[i]]
        name = f"{stem} {form}"
        if not kind.emerging and kind.sectors[0] not in ("Sovereigns & Supranationals",
                                                         "Pension Funds", "Hedge Funds"):
            name += f" {LEGAL_FORM[str(home[i])]}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            name = f"{name} {count}"
        row = {"counterparty_id": ids[i], "name": name, "recovery": _num(recovery[i], 2),
               "rating": RATINGS[rating[i]], "sector": sector}
        if flat[i]:
            row["hazard_rate"] = _num(s5[i] / 1e4 / (1.0 - recovery[i]), 6)
        else:
            row.update({c: _num(v, 1) for c, v in zip(CDS_COLUMNS, curves[i], strict=True)})
        rows.append(row)
    return _Counterparties(ids, rows, type_idx, home, rating, weight)


@dataclass(frozen=True)
class _Book:
    """Netting sets (with their CSAs) and the netting set of every trade slot."""

    ns_ids: list[str]
    ns_cpty: IntArray
    ns_rows: list[dict[str, str]]
    csa_rows: list[dict[str, str]]
    trade_ns: IntArray  # [trades] netting set index per trade slot (shuffled)


def _book(rng: np.random.Generator, cp: _Counterparties, n_trades: int) -> _Book:
    """Allocate trades to counterparties (heavy tailed) and netting sets, and draw the CSAs."""
    n = len(cp.ids)
    w = cp.weight / cp.weight.sum()
    w = np.minimum(w, max(0.04, 3.0 / n))  # no single name holds more than ~4% of a big book
    w /= w.sum()
    if n_trades >= n:
        per_cp = 1 + rng.multinomial(n_trades - n, w)
    else:
        per_cp = np.zeros(n, dtype=np.int64)
        per_cp[rng.choice(n, size=n_trades, replace=False, p=w)] = 1
    ns_ids: list[str] = []
    ns_cpty: list[int] = []
    ns_rows: list[dict[str, str]] = []
    csa_rows: list[dict[str, str]] = []
    slots: list[IntArray] = []
    for i in np.flatnonzero(per_cp):
        count = int(per_cp[i])
        k = 1 if count < 15 else min(6, 1 + int(math.log(count / 15) / math.log(2.5)))
        k = min(k, count)
        split = 1 + rng.multinomial(count - k, rng.dirichlet(np.full(k, 1.5)))
        kind = CPTY_TYPES[cp.type_idx[i]]
        for j in range(k):
            nid = f"NS{cp.ids[i][2:]}-{j + 1}"
            slots.append(np.full(int(split[j]), len(ns_ids), dtype=np.int64))
            csa = _csa(rng, kind, int(cp.rating[i]), str(cp.home[i]), nid, int(split[j]))
            ns_rows.append({"netting_set_id": nid, "counterparty_id": cp.ids[i],
                            "csa_id": "" if csa is None else csa["csa_id"]})
            if csa is not None:
                csa_rows.append(csa)
            ns_ids.append(nid)
            ns_cpty.append(int(i))
    trade_ns = rng.permutation(np.concatenate(slots)) if slots else np.zeros(0, np.int64)
    return _Book(ns_ids, np.array(ns_cpty, dtype=np.int64), ns_rows, csa_rows, trade_ns)


def _csa(rng: np.random.Generator, kind: _CptyType, rating: int, home: str, nid: str,
         n_trades: int) -> dict[str, str] | None:
    """CSA terms of one netting set, or None when uncollateralised."""
    choice = int(rng.choice(4, p=np.array(kind.csa)))
    mta_draw, th_draw, mpor_draw, ccy_draw, ia_draw = rng.random(5)
    if choice == 0:
        return None
    currency = home if ccy_draw < 0.5 else "USD"
    mta = (100_000, 250_000, 500_000, 1_000_000)[int(mta_draw * 4)]
    th_cpty = th_own = 0.0
    im = "none"
    if choice == 2:
        # Unsecured line the bank grants, shrinking with the rating; the bank (A) gets 10-25M.
        top = 50e6 if rating <= 3 else 25e6 if rating <= 6 else 10e6 if rating <= IG_LAST else 2e6
        th_cpty = float(_round_sig(np.array([top * (0.2 + 0.8 * th_draw)]), 1)[0])
        th_own = 10e6 if th_draw < 0.5 else 25e6
    elif choice == 3:
        im = "simm"
        mta = 500_000
    ia = 0.0
    if kind.sectors[0] == "Hedge Funds":
        ia = float(_round_sig(np.array([5e6 + 45e6 * ia_draw]), 1)[0])
    mpor = 20 if (n_trades > 5000 or mpor_draw < 0.10) else 10
    return {"csa_id": f"CSA{nid[2:]}", "threshold_cpty": _num(th_cpty),
            "threshold_own": _num(th_own), "mta": _num(mta), "independent_amount": _num(ia),
            "mpor_days": str(mpor), "currency": currency, "im_model": im}


# ---------------------------------------------------------------------------------------------
# Swap legs: fixings and par rates
# ---------------------------------------------------------------------------------------------
@dataclass
class _Swaps:
    """Single-currency fixed-vs-float swaps, as arrays (IRS, swaption underlyings, CCS proxies).

    ``fixing`` is NaN where the floating period in progress did not start before as_of.
    """

    ccy: StrArray
    start: DateArray
    maturity: DateArray
    conv: list[_Convention]
    spread: FloatArray
    fixing: FloatArray

    def __len__(self) -> int:
        return int(self.ccy.size)


def _fixings(md: _MarketData, rng: np.random.Generator, ccy: StrArray, index: Sequence[str],
             start: DateArray, maturity: DateArray, months: IntArray) -> FloatArray:
    """``last_fixing`` of floating legs, NaN unless the period in progress started before as_of.

    The period is found with the schedule rule compilation uses (backward from maturity,
    Modified Following). Value: the curve's 3M rate plus the easing/hiking of the currency
    since the period start (half of it for overnight compounding, which averages the period)
    plus the index basis for term indices, plus noise of a few bp.
    """
    as_of = np.datetime64(md.market.as_of, "D")
    out = np.full(ccy.size, np.nan)
    if ccy.size == 0:
        return out
    period_start = np.full(ccy.size, np.datetime64("NaT"), dtype="datetime64[D]")
    for c in CURRENCIES:
        sel = np.flatnonzero(ccy == c)
        if sel.size == 0:
            continue
        p = backward_schedules(start[sel], maturity[sel], months[sel], md.market.calendar(c))
        live = (p.start < as_of) & (p.end > as_of)
        period_start[sel[p.leg[live]]] = p.start[live]
    need = ~np.isnat(period_start)
    elapsed = np.where(need, -year_fraction_365(as_of, np.where(need, period_start, as_of)), 0.0)
    overnight = np.array([INDICES[i].overnight for i in index])
    short = np.array([md.short_rate[c] for c in ccy])
    drift = np.array([RATE_DRIFT_PER_YEAR[c] for c in ccy])
    basis = np.array([md.market.index_basis.get(i, 0.0) for i in index])
    value = (short + drift * elapsed * np.where(overnight, 0.5, 1.0)
             + np.where(overnight, 0.0, basis) + 0.0003 * rng.standard_normal(ccy.size))
    return np.where(need, np.round(value, 6), np.nan)


def _par_rates(md: _MarketData, swaps: _Swaps) -> FloatArray:
    """Par fixed rate of each swap on the generated curves, priced by xvaflow itself.

    The value of a payer swap is linear in the fixed rate K: V(K) = F - K A. Each swap is
    compiled twice (K = 0 and K = 1) and priced with :func:`~xvaflow.pricing.t0.price_t0`;
    the par rate is F / A = V(0) / (V(0) - V(1)).
    """
    n = len(swaps)
    if n == 0:
        return np.zeros(0)
    start = swaps.start.astype(object)
    maturity = swaps.maturity.astype(object)
    trades: list[SwapTrade] = []
    for k in (0.0, 1.0):
        for i in range(n):
            c, cv = str(swaps.ccy[i]), swaps.conv[i]
            fix = float(swaps.fixing[i])
            info = TradeInfo(f"P{int(k)}_{i}", 1, "NS", "IRS", i + 2, c, 1.0, start[i],
                             maturity[i])
            legs = (FixedLeg(c, 1.0, k, cv.fixed_months, cv.fixed_daycount),
                    FloatLeg(c, 1.0, cv.index, cv.float_months, float(swaps.spread[i]),
                             cv.float_daycount, None if math.isnan(fix) else fix))
            trades.append(SwapTrade(info, legs, (-1, 1), False))
    log = ProblemLog()
    compiled = compile_portfolio(trades, md.market, log)
    if log.problems:
        raise AssertionError("generator swaps do not compile: " + str(log.problems[0]))
    npv = price_t0(compiled, md.market).npv
    v0, v1 = npv[:n], npv[n:]
    par: FloatArray = v0 / (v0 - v1)
    return par


def _pick_conventions(rng: np.random.Generator, ccy: StrArray) -> list[_Convention]:
    """Swap conventions (hence index) of each swap, by the weights of IRS_CONVENTIONS."""
    u = rng.random(ccy.size)
    out: list[_Convention] = []
    for c, x in zip(ccy, u, strict=True):
        options = IRS_CONVENTIONS[str(c)]
        cum = np.cumsum([p for _, p in options])
        out.append(options[min(int(np.searchsorted(cum, x, side="right")), len(options) - 1)][0])
    return out


def _swap_dates(rng: np.random.Generator, as_of: np.datetime64, n: int,
                tenors: Sequence[int], weights: Sequence[float],
                kind_p: tuple[float, float, float]) -> tuple[DateArray, DateArray, FloatArray]:
    """Start, maturity and years since trade date of ``n`` swaps.

    Kinds: seasoned (start uniformly within the life, at least a month left), spot starting
    (as_of + 2 business days), forward starting (1M-5Y after spot); maturity = start + tenor
    (unadjusted), residual maturity at most 30 years after the spot date.
    """
    tenor_list = np.array(tenors, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    tenor = rng.choice(tenor_list, size=n, p=w / w.sum())
    kind = rng.choice(3, size=n, p=np.array(kind_p))
    fwd_months = rng.choice(np.array([1, 3, 6, 12, 24, 36, 60]), size=n,
                            p=np.array([0.15, 0.2, 0.2, 0.2, 0.1, 0.08, 0.07]))
    fwd_months = np.where(kind == 2, fwd_months, 0)
    cap = np.sort(tenor_list)
    allowed = cap[np.maximum(np.searchsorted(cap, (360 - fwd_months) // 12, side="right") - 1,
                             0)]
    tenor = np.minimum(tenor, allowed)
    spot = WEEKENDS.advance_business_days(as_of, 2)
    life_days = np.floor(tenor * 365.25).astype(np.int64)
    elapsed_days = 1 + np.floor(rng.random(n) * (life_days - 35)).astype(np.int64)
    raw_start = np.where(kind == 0, as_of - elapsed_days.astype("timedelta64[D]"),
                         add_months(spot, fwd_months))
    start = WEEKENDS.adjust(raw_start)
    maturity = add_months(start, 12 * tenor)
    years_since = np.where(kind == 0, elapsed_days / 365.25, 0.0)
    return start, maturity, years_since


def _swap_row(conv: _Convention, fixed_rate: float, spread: float, fixing: float,
              suffix: str = "") -> dict[str, str]:
    """Fixed and floating leg columns of a swap (``suffix`` "_2" for CCS leg 2)."""
    row = _fixed_cols(conv.fixed_months, conv.fixed_daycount, fixed_rate, suffix)
    row.update(_float_cols(conv.index, conv.float_months, conv.float_daycount, spread, fixing,
                           suffix))
    return row


def _fixed_cols(months: int, daycount: str, rate: float, suffix: str = "") -> dict[str, str]:
    return {"fixed_rate" + suffix: _num(rate, 6), "fixed_frequency" + suffix: _FREQ_WORD[months],
            "fixed_daycount" + suffix: daycount}


def _float_cols(index: str, months: int, daycount: str, spread: float, fixing: float,
                suffix: str = "") -> dict[str, str]:
    return {"float_index" + suffix: index, "float_frequency" + suffix: _FREQ_WORD[months],
            "float_spread" + suffix: _num(spread, 6), "float_daycount" + suffix: daycount,
            "last_fixing" + suffix: "" if math.isnan(fixing) else _num(fixing, 6)}


def _trade_currency(rng: np.random.Generator, home: StrArray) -> StrArray:
    """The counterparty's home currency half the time, else the book's currency mix."""
    n = home.size
    mix = np.array(CURRENCIES)[rng.choice(len(CURRENCIES), size=n, p=CURRENCY_MIX)]
    out: StrArray = np.where(rng.random(n) < 0.5, home, mix)
    return out


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------
IRS_TENORS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30)
IRS_TENOR_WEIGHTS = (6, 10, 9, 6, 14, 5, 9, 4, 3, 14, 4, 6, 5, 2, 3)
RATE_VOL_SCALE = {c: SWAPTION_LEVEL_BP[c] / SWAPTION_LEVEL_BP["USD"] for c in CURRENCIES}


def _irs(rng: np.random.Generator, md: _MarketData, home: StrArray) -> list[dict[str, str]]:
    """Vanilla IRS rows (see module doc)."""
    n = home.size
    as_of = np.datetime64(md.market.as_of, "D")
    ccy = _trade_currency(rng, home)
    conv = _pick_conventions(rng, ccy)
    start, maturity, years = _swap_dates(rng, as_of, n, IRS_TENORS, IRS_TENOR_WEIGHTS,
                                         (0.60, 0.28, 0.12))
    spread = np.where(rng.random(n) < 0.10, np.round(0.001 * rng.standard_normal(n), 5), 0.0)
    index = [c.index for c in conv]
    fixing = _fixings(md, rng, ccy, index, start, maturity,
                      np.array([c.float_months for c in conv], dtype=np.int64))
    swaps = _Swaps(ccy, start, maturity, conv, spread, fixing)
    par = _par_rates(md, swaps)
    scale = np.array([RATE_VOL_SCALE[c] for c in ccy])
    drift = np.clip(0.0025 * np.sqrt(years) * rng.standard_normal(n), -0.015, 0.015) * scale
    fixed = np.round(par + drift + 0.00005 * rng.standard_normal(n), 6)
    to_base = np.array([md.to_base[c] for c in ccy])
    notional = _notionals(rng, n, 25e6, 1.1, to_base)
    payer = rng.random(n) < 0.5
    rows = []
    for i in range(n):
        row = {"product": "IRS", "direction": "payer" if payer[i] else "receiver",
               "notional": _num(notional[i]), "currency": str(ccy[i]),
               "start_date": _iso(start[i]), "maturity_date": _iso(maturity[i])}
        row.update(_swap_row(conv[i], fixed[i], spread[i], fixing[i]))
        rows.append(row)
    return rows


def _swaptions(rng: np.random.Generator, md: _MarketData,
               home: StrArray) -> list[dict[str, str]]:
    """European swaptions on vanilla swaps starting two business days after expiry."""
    n = home.size
    as_of = np.datetime64(md.market.as_of, "D")
    ccy = _trade_currency(rng, home)
    conv = _pick_conventions(rng, ccy)
    exp_months = rng.choice(np.array([3, 6, 12, 24, 36, 60, 84, 120]), size=n,
                            p=np.array([0.10, 0.12, 0.22, 0.16, 0.12, 0.15, 0.06, 0.07]))
    expiry = WEEKENDS.adjust(add_months(as_of, exp_months))
    start = WEEKENDS.advance_business_days(expiry, 2)
    tenor = rng.choice(np.array([1, 2, 5, 10, 15, 20, 30]), size=n,
                       p=np.array([0.10, 0.15, 0.25, 0.30, 0.08, 0.07, 0.05]))
    tenor = np.minimum(tenor, 30 - (exp_months + 11) // 12)
    maturity = add_months(start, 12 * tenor)
    swaps = _Swaps(ccy, start, maturity, conv, np.zeros(n), np.full(n, np.nan))
    atm = _par_rates(md, swaps)
    strike = np.round(atm + 0.004 * rng.standard_normal(n) * np.array(
        [RATE_VOL_SCALE[c] for c in ccy]), 5)
    notional = _notionals(rng, n, 30e6, 1.0, np.array([md.to_base[c] for c in ccy]))
    long = rng.random(n) < 0.45
    payer = rng.random(n) < 0.5
    cash = rng.random(n) < 0.35
    rows = []
    for i in range(n):
        row = {"product": "SWAPTION", "direction": "long" if long[i] else "short",
               "notional": _num(notional[i]), "currency": str(ccy[i]),
               "start_date": _iso(start[i]), "maturity_date": _iso(maturity[i]),
               "expiry_date": _iso(expiry[i]), "settlement": "cash" if cash[i] else "physical",
               "direction_underlying": "payer" if payer[i] else "receiver"}
        row.update(_swap_row(conv[i], strike[i], 0.0, math.nan))
        rows.append(row)
    return rows


def _ccs(rng: np.random.Generator, md: _MarketData, n: int) -> list[dict[str, str]]:
    """Cross-currency swaps: float-float (55%), fixed-fixed (25%), fixed-float (20%)."""
    as_of = np.datetime64(md.market.as_of, "D")
    pair = rng.choice(len(CCS_PAIRS), size=n, p=CCS_PAIR_WEIGHTS)
    flip = rng.random(n) < 0.3
    c1 = np.array([CCS_PAIRS[p][1 if f else 0] for p, f in zip(pair, flip, strict=True)])
    c2 = np.array([CCS_PAIRS[p][0 if f else 1] for p, f in zip(pair, flip, strict=True)])
    style = rng.choice(3, size=n, p=np.array([0.55, 0.25, 0.20]))  # ff, fixfix, fix-float
    start, maturity, years = _swap_dates(rng, as_of, n, (1, 2, 3, 5, 7, 10, 15),
                                         (8, 14, 16, 24, 14, 16, 8), (0.45, 0.45, 0.10))
    fixed1 = style >= 1
    fixed2 = style == 1
    # Overnight legs pay quarterly; fixed legs annually (par rates from same-schedule proxies).
    on_conv = {c: _Convention(OVERNIGHT_INDEX[c], 12, CCS_FIXED_DAYCOUNT[c], 3,
                              INDICES[OVERNIGHT_INDEX[c]].daycount) for c in CURRENCIES}
    legs_ccy = np.concatenate([c1, c2])
    legs_start = np.concatenate([start, start])
    legs_mat = np.concatenate([maturity, maturity])
    legs_conv = [on_conv[str(c)] for c in legs_ccy]
    fixing = _fixings(md, rng, legs_ccy, [c.index for c in legs_conv], legs_start, legs_mat,
                      np.full(2 * n, 3, dtype=np.int64))
    proxies = _Swaps(legs_ccy, legs_start, legs_mat, legs_conv, np.zeros(2 * n), fixing)
    par = _par_rates(md, proxies)
    scale = np.array([RATE_VOL_SCALE[str(c)] for c in legs_ccy])
    rate = np.round(par + np.clip(0.0025 * np.sqrt(np.r_[years, years])
                                  * rng.standard_normal(2 * n), -0.015, 0.015) * scale, 6)
    # Basis spread on the non-USD leg of float-float USD swaps (none on crosses).
    basis = np.array([CCS_BASIS_BP[str(a)] if b == "USD" else 0.0 for a, b in zip(
        legs_ccy, np.concatenate([c2, c1]), strict=True)]) / 1e4
    basis = np.round(basis * np.exp(0.2 * rng.standard_normal(2 * n)), 6)
    to_base1 = np.array([md.to_base[str(c)] for c in c1])
    notional = _notionals(rng, n, 50e6, 0.9, to_base1)
    spot12 = to_base1 / np.array([md.to_base[str(c)] for c in c2])
    hist = spot12 * np.exp(np.clip(0.08 * np.sqrt(years) * rng.standard_normal(n), -0.35, 0.35))
    notional2 = np.round(notional * hist, 0)
    payer = rng.random(n) < 0.5
    rows = []
    for i in range(n):
        row = {"product": "CCS", "direction": "payer" if payer[i] else "receiver",
               "notional": _num(notional[i]), "currency": str(c1[i]),
               "start_date": _iso(start[i]), "maturity_date": _iso(maturity[i]),
               "currency_2": str(c2[i]), "notional_2": _num(notional2[i])}
        for leg, is_fixed, suffix in ((i, fixed1[i], ""), (n + i, fixed2[i], "_2")):
            cv = legs_conv[leg]
            if is_fixed:
                row.update(_fixed_cols(12, cv.fixed_daycount, rate[leg], suffix))
            else:
                spread = 0.0 if style[i] != 0 else float(basis[leg])
                row.update(_float_cols(cv.index, 3, cv.float_daycount, spread,
                                       float(fixing[leg]), suffix))
        rows.append(row)
    return rows


def _fx_trades(rng: np.random.Generator, md: _MarketData, n: int,
               option: bool) -> list[dict[str, str]]:
    """FX forwards (bank buys either side) and European FX options near the forward."""
    market = md.market
    as_of = np.datetime64(market.as_of, "D")
    pair_idx = rng.choice(len(PAIRS), size=n, p=np.array([0.40, 0.20, 0.25, 0.15]))
    months = rng.choice(np.array([1, 2, 3, 6, 9, 12, 18, 24, 36]), size=n,
                        p=np.array([0.18, 0.12, 0.20, 0.17, 0.08, 0.12, 0.05, 0.05, 0.03]))
    if option:
        months = np.minimum(months, 24)
        expiry = WEEKENDS.adjust(add_months(as_of, months))
        settle = WEEKENDS.advance_business_days(expiry, 2)
    else:
        weekly = rng.random(n) < 0.08  # a few 1W-3W forwards
        spot = WEEKENDS.advance_business_days(as_of, 2)
        settle = WEEKENDS.adjust(np.where(
            weekly, spot + (7 * rng.integers(1, 4, size=n)).astype("timedelta64[D]"),
            add_months(spot, months)))
        expiry = settle
    t_pay = year_fraction_365(as_of, settle)
    t_exp = year_fraction_365(as_of, expiry)
    fwd = np.array([float(market.fx_forward(PAIRS[p], t)) for p, t in zip(pair_idx, t_pay,
                                                                          strict=True)])
    vol = np.array([FX_ANCHORS[PAIRS[p]][1] for p in pair_idx])
    if option:
        strike = fwd * np.exp(vol * np.sqrt(t_exp) * rng.uniform(-1.2, 1.2, size=n))
    else:
        seasoned = rng.random(n) < 0.7  # traded up to 9 months ago, at the then forward
        strike = fwd * np.exp(np.where(seasoned, vol * np.sqrt(0.75 * rng.random(n)), 0.0)
                              * rng.standard_normal(n))
    foreign = np.array([PAIRS[p][:3] for p in pair_idx])
    domestic = np.array([PAIRS[p][3:] for p in pair_idx])
    digits = np.where(domestic == "JPY", 2, 4)
    strike = np.array([round(float(k), int(d)) for k, d in zip(strike, digits, strict=True)])
    notional = _notionals(rng, n, 12e6 if not option else 15e6, 1.0,
                          np.array([md.to_base[str(c)] for c in foreign]))
    buy_foreign = rng.random(n) < 0.5
    long = rng.random(n) < 0.4
    rows = []
    for i in range(n):
        f_amt, d_amt = _num(notional[i], 2), _num(notional[i] * strike[i], 2)
        if buy_foreign[i]:
            legs = (str(foreign[i]), f_amt, str(domestic[i]), d_amt)
        else:
            legs = (str(domestic[i]), d_amt, str(foreign[i]), f_amt)
        row = {"product": "FXOPT" if option else "FXFWD", "maturity_date": _iso(settle[i]),
               "buy_currency": legs[0], "buy_amount": legs[1], "sell_currency": legs[2],
               "sell_amount": legs[3]}
        if option:
            row["direction"] = "long" if long[i] else "short"
            row["expiry_date"] = _iso(expiry[i])
        rows.append(row)
    return rows


def _equity_trades(rng: np.random.Generator, md: _MarketData, n: int,
                   option: bool) -> list[dict[str, str]]:
    """Equity index forwards and European options expiring on third Fridays."""
    market = md.market
    as_of = np.datetime64(market.as_of, "D")
    und = rng.choice(len(EQUITY_NAMES), size=n, p=np.array([0.5, 0.3, 0.2]))
    months = rng.choice(np.array([1, 2, 3, 6, 9, 12, 18, 24, 36, 60]), size=n,
                        p=np.array([0.10, 0.08, 0.15, 0.18, 0.10, 0.15, 0.08, 0.08, 0.05, 0.03]))
    expiry = _third_friday(as_of.astype("datetime64[M]") + months.astype("timedelta64[M]"))
    t = year_fraction_365(as_of, expiry)
    names = [EQUITY_NAMES[u] for u in und]
    specs = [market.equity(name) for name in names]
    spot = np.array([s.spot for s in specs])
    q = np.array([s.dividend_yield for s in specs])
    p = np.array([float(market.discount(s.currency, tt)) for s, tt in zip(specs, t,
                                                                          strict=True)])
    fwd = spot * np.exp(-q * t) / p
    step = np.array([EQUITY_ANCHORS[name][4] for name in names])
    if option:
        moneyness = rng.choice(np.array([0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2]),
                               size=n, p=np.array([0.05, 0.08, 0.12, 0.15, 0.2, 0.15, 0.12,
                                                   0.08, 0.05]))
        strike = np.maximum(np.round(fwd * moneyness / step) * step, step)
        call = rng.random(n) < 0.5
    else:
        strike = np.round(fwd * np.exp(0.03 * rng.standard_normal(n)), 1)
        call = np.zeros(n, dtype=bool)
    to_base = np.array([md.to_base[s.currency] for s in specs])
    notional = _notionals(rng, n, 8e6, 1.0, to_base)
    quantity = np.maximum(_round_sig(notional / spot, 2), 1.0)
    long = rng.random(n) < 0.5
    rows = []
    for i in range(n):
        row = {"product": "EQOPT" if option else "EQFWD", "direction": "long" if long[i]
               else "short", "maturity_date": _iso(expiry[i]), "expiry_date": _iso(expiry[i]),
               "underlying": names[i], "quantity": _num(quantity[i]),
               "strike": _num(strike[i], 2)}
        if option:
            row["option_type"] = "call" if call[i] else "put"
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([row.get(c, "") for c in columns] for row in rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


HISTORY_DAYS = 260  # business days of history/ (>= 251: 250 daily changes)
HISTORY_VOL = (0.0005, 0.00005)  # daily moves: a common level shift, and each tenor's own


def _write_history(directory: Path, doc: dict[str, Any], as_of: _dt.date,
                   rng: np.random.Generator) -> None:
    """history/<CCY>.csv: :data:`HISTORY_DAYS` business days of par quotes ending at
    market.json's (a random walk of a common shift and independent tenor moves; its own random
    stream, so the other files are those of earlier versions)."""
    directory.mkdir(exist_ok=True)
    days: list[_dt.date] = []
    day = as_of
    while len(days) < HISTORY_DAYS:
        if day.weekday() < 5:
            days.append(day)
        day -= _dt.timedelta(days=1)
    days.reverse()
    for ccy, spec in doc["curves"].items():
        tenors = [q["tenor"] for q in spec["par_quotes"]]
        today = np.array([q["rate"] for q in spec["par_quotes"]])
        moves = (HISTORY_VOL[0] * rng.standard_normal((HISTORY_DAYS, 1))
                 + HISTORY_VOL[1] * rng.standard_normal((HISTORY_DAYS, len(tenors))))
        walk = np.cumsum(moves, axis=0)
        rates = today + walk - walk[-1]
        rows = [{"date": d.isoformat(), "type": "par",
                 **{t: f"{r:.6f}" for t, r in zip(tenors, row, strict=True)}}
                for d, row in zip(days, rates, strict=True)]
        _write_csv(directory / f"{ccy}.csv", ("date", "type", *tenors), rows)


def generate_portfolio(out: Path, *, counterparties: int, trades: int, seed: int = 42,
                       as_of: _dt.date) -> str:
    """Write a synthetic bank portfolio directory (see the module docstring for what is drawn).

    Args:
        out: directory to write (created if needed; the six files and history/ are
            overwritten).
        counterparties: number of counterparties (>= 1). All are written; when there are
            fewer trades than counterparties, only the counterparties holding a trade get a
            netting set.
        trades: number of trades (>= 1).
        seed: seed of the PCG64 generator; the same arguments give byte-identical files.
        as_of: valuation date of market.json (trade dates are drawn relative to it).

    Returns:
        A one-line summary of what was written.
    """
    if counterparties < 1 or trades < 1:
        raise ValueError("counterparties and trades must be at least 1")
    rng = np.random.default_rng(seed)
    md = _build_market(rng, as_of)
    cp = _counterparties(rng, counterparties)
    book = _book(rng, cp, trades)

    counts = _largest_remainder(list(PRODUCT_MIX.values()), trades)
    product = rng.permutation(np.repeat(np.arange(len(PRODUCT_MIX)), counts))
    home = cp.home[book.ns_cpty[book.trade_ns]]
    emerging = np.array([t.emerging for t in CPTY_TYPES])[cp.type_idx[book.ns_cpty[
        book.trade_ns]]]
    home = np.where(emerging & (rng.random(trades) < 0.6), "USD", home)
    rows: list[dict[str, str]] = [{} for _ in range(trades)]
    makers = {
        "IRS": lambda sel: _irs(rng, md, home[sel]),
        "FXFWD": lambda sel: _fx_trades(rng, md, sel.size, option=False),
        "FXOPT": lambda sel: _fx_trades(rng, md, sel.size, option=True),
        "SWAPTION": lambda sel: _swaptions(rng, md, home[sel]),
        "EQFWD": lambda sel: _equity_trades(rng, md, sel.size, option=False),
        "EQOPT": lambda sel: _equity_trades(rng, md, sel.size, option=True),
        "CCS": lambda sel: _ccs(rng, md, sel.size),
    }
    for k, name in enumerate(PRODUCT_MIX):
        sel = np.flatnonzero(product == k)
        if sel.size:
            for slot, row in zip(sel, makers[name](sel), strict=True):
                rows[slot] = row
    width = max(6, len(str(trades)))
    for i, row in enumerate(rows):
        row["trade_id"] = f"T{i + 1:0{width}d}"
        row["version"] = "1"
        row["netting_set_id"] = book.ns_ids[book.trade_ns[i]]

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "market.json").write_text(json.dumps(md.doc, indent=2) + "\n", encoding="utf-8")
    _write_csv(out / "counterparties.csv", CPTY_COLUMNS, cp.rows)
    _write_csv(out / "netting_sets.csv", NETTING_COLUMNS, book.ns_rows)
    _write_csv(out / "csas.csv", CSA_COLUMNS, book.csa_rows)
    _write_csv(out / "trades.csv", TRADE_COLUMNS, rows)
    run = {"paths": 10000, "seed": seed, "grid": "3M:30Y", "bilateral": True, "partitions": 4}
    (out / "run.json").write_text(json.dumps(run) + "\n", encoding="utf-8")
    _write_history(out / HISTORY_DIR, md.doc, as_of, np.random.default_rng([seed, 1]))

    mix = ", ".join(f"{name} {int(c)}" for name, c in zip(PRODUCT_MIX, counts, strict=True)
                    if c)
    return (f"{counterparties} counterparties, {len(book.ns_ids)} netting sets "
            f"({len(book.csa_rows)} with a CSA), {trades} trades ({mix})")
