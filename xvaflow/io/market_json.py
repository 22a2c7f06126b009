"""market.json: parse, validate completely, and build the :class:`~xvaflow.market.market.Market`.

Every problem names the JSON path (``curves.EUR.par_quotes[1].rate``). Curves are built as
CONTRACT.md says: ``zero_rates`` pillars at as_of + tenor (calendar dates, no roll), ACT/365F,
continuously compounded; ``par_quotes`` bootstrapped (:mod:`xvaflow.market.bootstrap`). FX spots
are chained from the base currency through the quoted pairs; a quoted pair that contradicts the
others (a triangular inconsistency above 1e-9 relative) is a problem.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from xvaflow.core.calendar import Calendar
from xvaflow.core.dates import Tenor, add_tenor, parse_date, parse_tenor, year_fraction_365
from xvaflow.core.errors import ProblemLog
from xvaflow.core.fields import unsafe_character
from xvaflow.io.files import JSON_LIMIT, read_input
from xvaflow.io.limits import (
    AS_OF_RANGE,
    EQUITY_SPOT_MAX,
    EQUITY_SPOT_MIN,
    FX_SPOT_RANGE,
    HW_MEAN_REVERSION_MIN,
    HW_VOLATILITY_MIN,
    MAX_JSON_DEPTH,
    SWAPTION_VOL_MIN_BP,
    VOL_MIN,
)
from xvaflow.market.bootstrap import (
    BootstrapError,
    ParQuote,
    bootstrap_hazard_curves,
    bootstrap_ois_curve,
)
from xvaflow.market.conventions import CURRENCIES, INDICES, split_pair
from xvaflow.market.curves import HazardCurve, ZeroCurve
from xvaflow.market.market import (
    CreditSpec,
    EquitySpec,
    Funding,
    HullWhiteParams,
    Market,
    SwaptionVolGrid,
    VolCurve,
)

MARKET_FILE = "market.json"
KNOWN_KEYS = ("as_of", "base_currency", "curves", "index_basis", "fx_spots", "fx_vols",
              "equities", "swaption_vols", "hull_white", "correlations", "own_credit", "funding",
              "holidays")
FACTOR_PREFIXES = ("IR_", "FX_", "EQ_")


class _Json:
    """Typed access to a JSON document, recording problems with their paths."""

    def __init__(self, log: ProblemLog, file: str) -> None:
        self.log = log
        self.file = file
        self.correlation_keys: dict[tuple[str, str], str] = {}  # sorted pair -> key as given

    def problem(self, path: str, message: str) -> None:
        self.log.add(self.file, None, path, message)

    def obj(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"must be an object, got {_kind(value)}")
            return None
        return value

    def number(self, value: Any, path: str, *, positive: bool = False, lower: float | None = None,
               upper: float | None = None) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"must be a number, got {_kind(value)}")
            return None
        v = float(value)
        if not math.isfinite(v):
            self.problem(path, "must be a finite number")
        elif positive and v <= 0.0:
            self.problem(path, f"must be positive, got {value}")
        elif lower is not None and v < lower:
            self.problem(path, f"must be at least {lower:g}, got {value}")
        elif upper is not None and v > upper:
            self.problem(path, f"must be at most {upper:g}, got {value}")
        else:
            return v
        return None

    def parsed(self, value: Any, path: str, parse: Callable[[str], Any]) -> Any:
        if not isinstance(value, str):
            self.problem(path, f"must be a string, got {_kind(value)}")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None

    def currency(self, value: Any, path: str) -> str | None:
        def parse(s: str) -> str:
            if s not in CURRENCIES:
                raise ValueError(f"unknown currency {s!r}")
            return s

        return self.parsed(value, path, parse)  # type: ignore[no-any-return]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)


def read_json(path: Path, log: ProblemLog, limit: int = JSON_LIMIT) -> tuple[bool, Any]:
    """(True, document) of a JSON input file, or (False, None) after recording why not.

    The file must be a regular file within ``limit`` (:func:`~xvaflow.io.files.read_input`),
    UTF-8 (a BOM is harmless, as in CSV) and valid JSON nested at most
    :data:`MAX_JSON_DEPTH` deep.
    """
    data = read_input(path, log, limit)
    if data is None:
        return False, None
    too_deep = (f"is nested more than {MAX_JSON_DEPTH} levels deep (no valid input needs "
                "more than a few)")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: JSONDecodeError, or an
        # integer literal beyond Python's 4,300-digit conversion limit
        where = (f" (line {exc.lineno}, column {exc.colno})"
                 if isinstance(exc, json.JSONDecodeError) else "")
        log.add(path.name, None, None, f"is not valid JSON{where}: {exc}")
        return False, None
    except RecursionError:  # the json module recurses once per level, ~1,000 levels at most
        log.add(path.name, None, None, too_deep)
        return False, None
    if _depth_exceeds(doc, MAX_JSON_DEPTH):
        log.add(path.name, None, None, too_deep)
        return False, None
    return True, doc


def _depth_exceeds(doc: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than ``limit`` in ``doc`` (walked without
    recursion, so that later code, encoders included, never meets such a document)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children = (node.values() if isinstance(node, dict) else node
                    if isinstance(node, list) else ())
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def load_market(path: Path, log: ProblemLog) -> Market | None:
    """Read market.json and build the market, or return None after recording every problem."""
    ok, raw = read_json(path, log)
    return market_from_json(raw, log, path.name) if ok else None


def market_from_json(raw: Any, log: ProblemLog, file: str = MARKET_FILE) -> Market | None:
    """Build a Market from the parsed market.json document (problems recorded in ``log``)."""
    j = _Json(log, file)
    doc = j.obj(raw, "(document)")
    if doc is None:
        return None
    for key in doc:
        if key not in KNOWN_KEYS:
            log.warn(file, None, key, "unknown key, ignored")
    start = len(log.problems)
    as_of = j.parsed(doc.get("as_of"), "as_of", parse_date) if "as_of" in doc else None
    if "as_of" not in doc:
        j.problem("as_of", "is required")
    base = j.currency(doc.get("base_currency"), "base_currency") if "base_currency" in doc \
        else None
    if "base_currency" not in doc:
        j.problem("base_currency", "is required")
    if as_of is not None and not AS_OF_RANGE[0] <= as_of <= AS_OF_RANGE[1]:
        j.problem("as_of", f"{as_of} is outside {AS_OF_RANGE[0]} to {AS_OF_RANGE[1]} "
                  "(docs/conventions.md, \"Input limits\")")
        as_of = None
    if as_of is None or base is None:
        return None

    calendars = _holidays(j, doc.get("holidays", {}))
    if not calendars.get(base, Calendar()).is_business_day(np.datetime64(as_of, "D")):
        log.warn(file, None, "as_of", f"{as_of} is not a business day in {base}: curves "
                 "start on it unrolled, while trade schedules roll their dates")
    curves = _curves(j, doc.get("curves"), as_of, calendars)
    if isinstance(doc.get("curves"), dict) and base not in doc["curves"]:
        j.problem(f"curves.{base}", f"the base currency {base} needs a curve")
    fx_to_base = _fx_spots(j, doc.get("fx_spots", {}), base)
    market = Market(
        as_of=as_of,
        base_currency=base,
        curves=curves,
        fx_to_base=fx_to_base,
        calendars=calendars,
        index_basis=_index_basis(j, doc.get("index_basis", {})),
        fx_vols=_fx_vols(j, doc.get("fx_vols", {}), as_of),
        equities=_equities(j, doc.get("equities", {}), as_of),
        swaption_vols=_swaption_vols(j, doc.get("swaption_vols", {})),
        hull_white=_hull_white(j, doc.get("hull_white", {})),
        correlations=_correlations(j, doc.get("correlations", {})),
        own_credit=None,
        funding=_funding(j, doc.get("funding")),
        document=doc,
    )
    if len(log.problems) == start:  # a curve or vol refused above would echo here
        _check_correlation_factors(j, market)
    own = doc.get("own_credit")
    if own is not None and base in curves:
        market = _with_own_credit(j, own, market)
    return market if len(log.problems) == start else None


def _holidays(j: _Json, raw: Any) -> dict[str, Calendar]:
    out: dict[str, Calendar] = {}
    obj = j.obj(raw, "holidays")
    for ccy, dates in (obj or {}).items():
        path = f"holidays.{ccy}"
        if j.currency(ccy, path) is None:
            continue
        if not isinstance(dates, list):
            j.problem(path, f"must be a list of dates, got {_kind(dates)}")
            continue
        parsed = [j.parsed(d, f"{path}[{i}]", parse_date) for i, d in enumerate(dates)]
        out[ccy] = Calendar([d for d in parsed if d is not None], name=ccy)
    return out


def _curves(j: _Json, raw: Any, as_of: _dt.date, calendars: dict[str, Calendar]
            ) -> dict[str, ZeroCurve]:
    if raw is None:
        j.problem("curves", "is required")
        return {}
    obj = j.obj(raw, "curves")
    out: dict[str, ZeroCurve] = {}
    for ccy, spec in (obj or {}).items():
        path = f"curves.{ccy}"
        if j.currency(ccy, path) is None or (spec := j.obj(spec, path)) is None:
            continue
        kinds = [k for k in ("zero_rates", "par_quotes") if k in spec]
        for k in spec:
            if k not in ("zero_rates", "par_quotes"):
                j.problem(f"{path}.{k}", "unknown key (expected zero_rates or par_quotes)")
        if len(kinds) != 1:
            j.problem(path, "give exactly one of zero_rates and par_quotes")
            continue
        calendar = calendars.get(ccy, Calendar(name=ccy))
        curve = (_zero_rates(j, spec["zero_rates"], f"{path}.zero_rates", as_of, ccy)
                 if kinds[0] == "zero_rates" else
                 _par_quotes(j, spec["par_quotes"], f"{path}.par_quotes", as_of, ccy, calendar))
        if curve is not None:
            out[ccy] = curve
    return out


def _zero_rates(j: _Json, raw: Any, path: str, as_of: _dt.date, ccy: str) -> ZeroCurve | None:
    obj = j.obj(raw, path)
    if not obj:
        if obj is not None:
            j.problem(path, "needs at least one tenor")
        return None
    pillars: list[tuple[float, float, str]] = []
    ok = True
    for tenor_text, rate in obj.items():
        tenor = j.parsed(tenor_text, f"{path}.{tenor_text}", parse_tenor)
        r = j.number(rate, f"{path}.{tenor_text}", lower=-0.5, upper=1.0)
        if tenor is None or r is None:
            ok = False
            continue
        t = float(year_fraction_365(as_of, add_tenor(np.datetime64(as_of, "D"), tenor)))
        pillars.append((t, r, tenor_text))
    if not ok:
        return None
    pillars.sort()
    for (t1, _, a), (t2, _, b) in itertools.pairwise(pillars):
        if t2 == t1:
            j.problem(f"{path}.{b}", f"tenor {b} falls on the same date as {a}")
            return None
    return ZeroCurve([p[0] for p in pillars], [p[1] for p in pillars], ccy)


def _par_quotes(j: _Json, raw: Any, path: str, as_of: _dt.date, ccy: str,
                calendar: Calendar) -> ZeroCurve | None:
    if not isinstance(raw, list) or not raw:
        j.problem(path, "must be a non-empty list of quotes")
        return None
    quotes: list[ParQuote] = []
    ok = True
    for i, q in enumerate(raw):
        qp = f"{path}[{i}]"
        if (obj := j.obj(q, qp)) is None:
            ok = False
            continue
        kind = obj.get("type")
        if kind not in ("deposit", "swap"):
            j.problem(f"{qp}.type", f"must be 'deposit' or 'swap', got {kind!r}")
            ok = False
        tenor = j.parsed(obj.get("tenor"), f"{qp}.tenor", parse_tenor)
        rate = j.number(obj.get("rate"), f"{qp}.rate", lower=-0.5, upper=1.0)
        if tenor is None or rate is None or kind not in ("deposit", "swap"):
            ok = False
            continue
        if kind == "swap" and (tenor.unit not in ("M", "Y") or tenor.months % 12):
            j.problem(f"{qp}.tenor", f"swap tenor {tenor} must be whole years (annual fixed leg)")
            ok = False
            continue
        quotes.append(ParQuote(kind, tenor, rate))
    if not ok:
        return None
    try:
        return bootstrap_ois_curve(as_of, quotes, calendar, ccy)
    except BootstrapError as exc:
        j.problem(path, str(exc))
        return None


def _fx_spots(j: _Json, raw: Any, base: str) -> dict[str, float]:
    obj = j.obj(raw, "fx_spots") or {}
    edges: dict[str, dict[str, float]] = {}
    quoted: list[tuple[str, str, float, str]] = []
    for pair, rate in obj.items():
        path = f"fx_spots.{pair}"
        legs = j.parsed(pair, path, split_pair)
        value = j.number(rate, path, positive=True, lower=FX_SPOT_RANGE[0],
                         upper=FX_SPOT_RANGE[1])
        if legs is None or value is None:
            continue
        a, b = legs
        edges.setdefault(a, {})[b] = value  # 1 a = value b
        edges.setdefault(b, {})[a] = 1.0 / value
        quoted.append((a, b, value, path))
    to_base = {base: 1.0}
    frontier = [base]
    while frontier:  # breadth-first: value of each reachable currency in base units
        nxt = []
        for ccy in frontier:
            for other, rate in edges.get(ccy, {}).items():
                if other not in to_base:
                    to_base[other] = to_base[ccy] / rate  # 1 ccy = rate other
                    nxt.append(other)
        frontier = nxt
    for a, b, value, path in quoted:
        if a in to_base and b in to_base:
            implied = to_base[a] / to_base[b]
            if abs(implied / value - 1.0) > 1e-9:
                j.problem(path, f"{value} contradicts the other quoted pairs, which imply "
                          f"{implied:.10g}")
    return to_base


def _index_basis(j: _Json, raw: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in (j.obj(raw, "index_basis") or {}).items():
        path = f"index_basis.{name}"
        spec = INDICES.get(name)
        if spec is None or spec.overnight:
            term = sorted(k for k, s in INDICES.items() if not s.overnight)
            j.problem(path, f"unknown term index {name!r}; expected one of {', '.join(term)}")
            continue
        v = j.number(value, path, lower=-0.1, upper=0.1)
        if v is not None:
            out[name] = v
    return out


def _vol_curve(j: _Json, raw: Any, path: str, as_of: _dt.date) -> VolCurve | None:
    """A vol: a number (flat) or an object tenor -> vol (total variance linear between the
    pillars, flat vol outside; the total variance must not decrease)."""
    if not isinstance(raw, dict):
        v = j.number(raw, path, positive=True, lower=VOL_MIN, upper=5.0)
        return None if v is None else VolCurve.flat(v)
    if not raw:
        j.problem(path, "needs at least one tenor")
        return None
    pillars: list[tuple[float, float, str]] = []
    for tenor_text, value in raw.items():
        tenor = j.parsed(tenor_text, f"{path}.{tenor_text}", parse_tenor)
        v = j.number(value, f"{path}.{tenor_text}", positive=True, lower=VOL_MIN,
                     upper=5.0)
        if tenor is None or v is None:
            return None
        t = float(year_fraction_365(as_of, add_tenor(np.datetime64(as_of, "D"), tenor)))
        pillars.append((t, v, tenor_text))
    pillars.sort()
    ok = True
    for (ta, va, a), (tb, vb, b) in itertools.pairwise(pillars):
        if tb <= ta:
            j.problem(f"{path}.{b}", f"tenor {b} falls on the same date as {a}")
            ok = False
        elif vb * vb * tb < va * va * ta:
            j.problem(f"{path}.{b}", f"total variance vol^2 T decreases from {a} "
                      f"({va * va * ta:.6g}) to {b} ({vb * vb * tb:.6g}): negative forward "
                      "variance (calendar arbitrage)")
            ok = False
    if not ok:
        return None
    return VolCurve(tuple(p[0] for p in pillars), tuple(p[1] for p in pillars))


def _fx_vols(j: _Json, raw: Any, as_of: _dt.date) -> dict[str, VolCurve]:
    out: dict[str, VolCurve] = {}
    for pair, value in (j.obj(raw, "fx_vols") or {}).items():
        path = f"fx_vols.{pair}"
        legs = j.parsed(pair, path, split_pair)
        v = _vol_curve(j, value, path, as_of)
        if legs is not None and v is not None:
            out[legs[0] + legs[1]] = v
    return out


SIMM_EQUITY_BUCKETS = (*(str(b) for b in range(1, 13)), "Residual")


def _equities(j: _Json, raw: Any, as_of: _dt.date) -> dict[str, EquitySpec]:
    out: dict[str, EquitySpec] = {}
    for name, spec in (j.obj(raw, "equities") or {}).items():
        path = f"equities.{name}"
        if (why := unsafe_character(name)) is not None:
            j.problem(path, f"name {name!r} {why}")
            continue
        if (obj := j.obj(spec, path)) is None:
            continue
        spot = j.number(obj.get("spot"), f"{path}.spot", positive=True, lower=EQUITY_SPOT_MIN,
                        upper=EQUITY_SPOT_MAX)
        ccy = j.currency(obj.get("currency"), f"{path}.currency")
        q = j.number(obj.get("dividend_yield", 0.0), f"{path}.dividend_yield", lower=-0.5,
                     upper=0.5)
        vol = _vol_curve(j, obj.get("vol"), f"{path}.vol", as_of)
        bucket = obj.get("simm_bucket")
        if bucket is not None:
            bucket = str(bucket) if not isinstance(bucket, bool) else ""
            if bucket not in SIMM_EQUITY_BUCKETS:
                j.problem(f"{path}.simm_bucket", f"must be an ISDA SIMM equity bucket, 1 to 12 "
                          f"or Residual, got {obj['simm_bucket']!r}")
                continue
        if None not in (spot, ccy, q, vol):
            out[name] = EquitySpec(name, spot, ccy, q, vol, bucket)  # type: ignore[arg-type]
    return out


def _swaption_vols(j: _Json, raw: Any) -> dict[str, SwaptionVolGrid]:
    out: dict[str, SwaptionVolGrid] = {}
    for ccy, spec in (j.obj(raw, "swaption_vols") or {}).items():
        path = f"swaption_vols.{ccy}"
        if j.currency(ccy, path) is None or (obj := j.obj(spec, path)) is None:
            continue
        grid = j.obj(obj.get("normal_bp"), f"{path}.normal_bp")
        if grid is None:
            continue
        cells: dict[tuple[Tenor, Tenor], float] = {}
        for exp_text, row in grid.items():
            ep = f"{path}.normal_bp.{exp_text}"
            expiry = j.parsed(exp_text, ep, parse_tenor)
            if (row_obj := j.obj(row, ep)) is None or expiry is None:
                continue
            for ten_text, bp in row_obj.items():
                tenor = j.parsed(ten_text, f"{ep}.{ten_text}", parse_tenor)
                v = j.number(bp, f"{ep}.{ten_text}", positive=True,
                             lower=SWAPTION_VOL_MIN_BP, upper=2000.0)
                if tenor is not None and v is not None:
                    cells[(expiry, tenor)] = v / 1e4
        expiries = tuple(sorted({e for e, _ in cells}, key=lambda t: t.approx_years))
        tenors = tuple(sorted({t for _, t in cells}, key=lambda t: t.approx_years))
        out[ccy] = SwaptionVolGrid(expiries, tenors, tuple(
            tuple(cells.get((e, t)) for t in tenors) for e in expiries))
    return out


def _hull_white(j: _Json, raw: Any) -> dict[str, HullWhiteParams]:
    out: dict[str, HullWhiteParams] = {}
    for ccy, spec in (j.obj(raw, "hull_white") or {}).items():
        path = f"hull_white.{ccy}"
        if j.currency(ccy, path) is None or (obj := j.obj(spec, path)) is None:
            continue
        a = j.number(obj.get("mean_reversion"), f"{path}.mean_reversion",
                     lower=HW_MEAN_REVERSION_MIN, upper=5.0)
        s = j.number(obj.get("volatility"), f"{path}.volatility", positive=True,
                     lower=HW_VOLATILITY_MIN, upper=0.2)
        if a is not None and a < 0.0:
            # The closed forms (B = (1 - e^{-a tau}) / a, the state variance
            # sigma^2 (1 - e^{-2 a t}) / (2 a)) hold for a < 0 too: the model is valid, but rates
            # no longer revert and their variance grows exponentially with the horizon.
            j.log.warn(j.file, None, f"{path}.mean_reversion", f"{a:g} is negative: rates "
                       "do not revert to the curve and their variance grows as e^(2|a|t) with "
                       "the horizon (valid, but check that it is intended)")
        if a is not None and s is not None:
            out[ccy] = HullWhiteParams(a, s)
    return out


def _correlations(j: _Json, raw: Any) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for key, value in (j.obj(raw, "correlations") or {}).items():
        path = f"correlations.{key}"
        names = key.split(":")
        if len(names) != 2 or names[0] == names[1] or not all(
                n.startswith(FACTOR_PREFIXES) and len(n) > 3 for n in names):
            j.problem(path, "must name two different factors as A:B, each IR_<ccy>, FX_<pair> "
                      "or EQ_<name>")
            continue
        rho = j.number(value, path, lower=-1.0, upper=1.0)
        if rho is None:
            continue
        pair = (names[0], names[1]) if names[0] < names[1] else (names[1], names[0])
        if pair in out:
            j.problem(path, f"duplicates the correlation of {pair[0]}:{pair[1]}")
            continue
        out[pair] = rho
        j.correlation_keys[pair] = key
    return out


def correlation_factors(market: Market) -> list[str]:
    """Every factor name a correlation may use: ``IR_<ccy>`` for each currency with a curve,
    ``FX_<ccy><base>`` or ``FX_<base><ccy>``, as fx_vols quotes the pair, for each foreign one
    (either without a vol: the factor is then not simulated, and the missing vol is reported
    where a trade or the simulation needs it), ``EQ_<name>`` for each equity (the model's
    names, :func:`xvaflow.models.crossasset.market_factors`)."""
    base = market.base_currency
    names = [f"IR_{c}" for c in sorted(market.curves)]
    for c in sorted(market.curves):
        if c == base:
            continue
        if c + base in market.fx_vols:
            names.append(f"FX_{c}{base}")
        elif base + c in market.fx_vols:
            names.append(f"FX_{base}{c}")
        else:  # not simulated without a vol (said where it matters); either name is no typo
            names += [f"FX_{c}{base}", f"FX_{base}{c}"]
    return names + [f"EQ_{e}" for e in sorted(market.equities)]


def _check_correlation_factors(j: _Json, market: Market) -> None:
    """A correlation naming a factor the market does not define would be silently dropped
    (a typo such as IR_USD:FX_USDEUR when fx_vols quotes EURUSD): refuse it."""
    valid = correlation_factors(market)
    known = set(valid)
    for pair in market.correlations:
        unknown = [repr(n) for n in pair if n not in known]
        if unknown:
            key = j.correlation_keys.get(pair, ":".join(pair))
            j.problem(f"correlations.{key}", f"unknown factor {' and '.join(unknown)}; the "
                      f"factors of this market.json are {', '.join(valid) or 'none'}")


def _funding(j: _Json, raw: Any) -> Funding | None:
    if raw is None:
        return None
    if (obj := j.obj(raw, "funding")) is None:
        return None
    # FCA and FBA are positive magnitudes (CONTRACT.md): a negative spread would publish
    # negative ones, so spreads are refused below 0.
    borrow = j.number(obj.get("borrow_spread_bp"), "funding.borrow_spread_bp", lower=0.0,
                      upper=5000)
    lend = j.number(obj.get("lend_spread_bp"), "funding.lend_spread_bp", lower=0.0, upper=5000)
    if borrow is None or lend is None:
        return None
    return Funding(borrow / 1e4, lend / 1e4)


def _with_own_credit(j: _Json, raw: Any, market: Market) -> Market:
    """own_credit: ``{"hazard_rate": h, "recovery": R}`` or ``{"cds_bp": {tenor: s}, ...}``."""
    obj = j.obj(raw, "own_credit")
    if obj is None:
        return market
    recovery = j.number(obj.get("recovery"), "own_credit.recovery", lower=0.0, upper=0.99)
    has_flat, has_cds = "hazard_rate" in obj, "cds_bp" in obj
    if has_flat == has_cds:
        j.problem("own_credit", "give exactly one of hazard_rate and cds_bp")
        return market
    curve: HazardCurve | None = None
    if has_flat:
        h = j.number(obj["hazard_rate"], "own_credit.hazard_rate", lower=0.0, upper=5.0)
        curve = None if h is None else HazardCurve.flat(h, "own")
    else:
        quotes = j.obj(obj["cds_bp"], "own_credit.cds_bp") or {}
        tenors = [j.parsed(k, f"own_credit.cds_bp.{k}", parse_tenor) for k in quotes]
        spreads = [j.number(v, f"own_credit.cds_bp.{k}", positive=True, upper=1e5)
                   for k, v in quotes.items()]
        if quotes and recovery is not None and None not in tenors and None not in spreads:
            try:
                curve = bootstrap_hazard_curves(
                    market.as_of, tenors, [[s / 1e4 for s in spreads]],  # type: ignore
                    [recovery], market.curve(market.base_currency),
                    market.calendar(market.base_currency), ["own"])[0]
            except BootstrapError as exc:
                j.problem("own_credit.cds_bp", str(exc))
    if curve is None or recovery is None:
        return market
    return replace(market, own_credit=CreditSpec(curve, recovery))
