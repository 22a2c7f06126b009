"""ISDA SIMM: initial margin from sensitivities, vectorised over a leading batch dimension.

The calculation (ISDA SIMM Methodology v2.6, section B "Structure of the methodology"; the
parameters are versioned data, ``xvaflow/margin/data/simm_2_6.json``) for the risk classes
interest rate (IR), FX and equity (EQ), margin types delta, vega and curvature:

Weighted sensitivities and concentration (B.8 delta, B.10 vega)::

    WS_k  = RW_k s_k CR_k                         delta
    WS_k  = VRW_k VR_k VCR_k                      vega
    CR_k  = max(1, sqrt(|sum_j s_j| / T_b))       per concentration group (IR: the currency,
                                                  XCcyBasis excluded; FX: the currency;
                                                  EQ: the issuer), T_b in USD millions;
    VCR_k = max(1, sqrt(|sum_j VR_j| / VT_b))     likewise for vega (FX: the pair)

where for EQ and FX vega the vega risk of a CRIF amount v is ``VR = HVR sigma v`` with
``sigma = RW_delta sqrt(365 / 14) / Phi^{-1}(99%)`` (14 days become 1.4 for the one-day
calibration), and IR vega is ``VR = v`` (inflation volatility aggregated per currency).

Within a bucket b (IR: currency; EQ: bucket; FX: one bucket)::

    K_b   = sqrt( sum_k WS_k^2 + sum_{k != l} rho_kl f_kl WS_k WS_l )
    f_kl  = min(CR_k, CR_l) / max(CR_k, CR_l)     (EQ, FX; 1 for IR)

with IR ``rho_kl = rho(tenor_k, tenor_l) x phi(sub-curve_k, sub-curve_l)`` (phi = 1 for the
same sub-curve), inflation and cross-currency-basis correlations to the curve (and to each
other), and FX correlations from the volatility groups of the two currencies and of the
calculation currency. Across buckets::

    Margin = sqrt( sum_b K_b^2 + sum_{b != c} gamma_bc g_bc S_b S_c ) + K_residual
    S_b    = max(min(sum_k WS_k, K_b), -K_b)
    g_bc   = min(CR_b, CR_c) / max(CR_b, CR_c)    (IR, with VCR for vega; 1 otherwise)

Curvature (B.11)::

    CVR_k = sum_j SF(t_j) sigma_kj v_kj,          SF(t) = 0.5 min(1, 14 days / t days)
    K_b   = sqrt( sum_k CVR_k^2 + sum_{k != l} rho_kl^2 CVR_k CVR_l )
    theta = min( sum_k CVR_k / sum_k |CVR_k|, 0 ),  lambda = (Phi^{-1}(99.5%)^2 - 1)(1 + theta)
                                                              - theta
    CurvatureMargin = max( sum_k CVR_k + lambda sqrt( sum_b K_b^2
                           + sum_{b != c} gamma_bc^2 S_b S_c ), 0 )   (+ residual, alone)

with ``sigma = 1`` for IR and the IR curvature margin scaled by ``HVR_IR^-2`` (B.11(d)); the
curvature risk of equity volatility indexes (bucket 12) is zero (v2.2 onwards).

Aggregation (section B: the risk-class margin B.5, product classes B.6, then)::

    IM_r        = DeltaMargin_r + VegaMargin_r + CurvatureMargin_r
    SIMM_p      = sqrt( sum_r sum_s psi_rs IM_r IM_s )       per product class p
    SIMM        = sum_p SIMM_p

Structure: :func:`compile_layout` turns the set of risk factors present into a
:class:`SimmLayout` once (indices, risk-weight matrices, correlation matrices, concentration
groups); :func:`simm_margin` evaluates it on sensitivities shaped ``[batch, n_factors]`` with
an array namespace ``xp`` (numpy or cupy). Concentration factors depend on the sensitivities,
so they are evaluated per batch row too; no Python loop runs over the batch, only over the
(few) buckets of the layout. A single CRIF is batch 1 (:func:`simm`); SIMM along every Monte
Carlo path is batch = paths with the same layout.

Sign convention: a CRIF's sensitivities give the margin to *call*; the margin to *post* is
SIMM of the negated sensitivities (only curvature differs).

References: ISDA SIMM Methodology, version 2.6 (effective 2 December 2023), section B and the
parameter sections D (interest rate), G (equity), I (FX); ISDA SIMM Technical Paper, section I
(one-day calibration). Paragraph numbers B.8, B.10, B.11(d) as ORE cites them for v2.6.
Validation: tests/validation/test_simm.py (ORE's SIMM v2.6 example to 1e-10; ISDA's v2.5 unit
tests for interest rate, FX and equity within their whole-USD rounding).
"""

from __future__ import annotations

import importlib.resources
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from xvaflow.margin.crif import (
    EQUITY_BUCKETS,
    IR_DELTA_TYPES,
    IR_VEGA_TYPES,
    PRODUCT_CLASSES,
    SUB_CURVES,
    SUPPORTED_RISK_TYPES,
    TENORS,
    CrifRecord,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

RISK_CLASSES = ("InterestRate", "FX", "Equity")
"""Risk classes computed here (methodology B.5), named as in ISDA's and ORE's reports."""
MARGIN_TYPES = ("Delta", "Vega", "Curvature")
DEFAULT_VERSION = "2.6"

RiskFactor = tuple[str, str, str, str, str, str]
"""(product class, risk type, qualifier, bucket, label1, label2): a CRIF row's key."""

_Entry = tuple[str, ...]
"""An entry of a bucket: a SIMM risk factor, e.g. ("curve", "10y", "OIS") or ("EURUSD",)."""


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, eq=False)
class SimmParameters:
    """One SIMM version's published parameters (the JSON file's content, checked on load).

    Attributes:
        data: the parsed JSON document (see ``xvaflow/margin/data/simm_2_6.json``).
    """

    data: Mapping[str, Any]

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def name(self) -> str:
        """E.g. ``"ISDA SIMM v2.6"``, for outputs."""
        return str(self.data["name"])

    def holding_period(self, mpor_days: int) -> Mapping[str, Any]:
        hp: Mapping[str, Any] = self.data["holding_periods"]
        key = str(mpor_days)
        if key not in hp:
            raise ValueError(f"{self.name} has no calibration for a {mpor_days}-day margin "
                             f"period of risk (available: {', '.join(sorted(hp))} days)")
        return hp[key]  # type: ignore[no-any-return]

    def ir_bucket(self, currency: str) -> str:
        """Volatility group of a currency (regular 1, low 2, high 3), section D."""
        ir = self.data["interest_rate"]
        return _group_of(currency, ir["currency_buckets"], ir["other_currency_bucket"])

    def fx_high_volatility(self, currency: str) -> bool:
        return currency in self.data["fx"]["high_volatility_currencies"]

    def fx_concentration_group(self, currency: str) -> str:
        fx = self.data["fx"]["concentration"]
        return _group_of(currency, fx["groups"], fx["other_group"])

    def tenor_days(self, tenor: str) -> float:
        """Length of a SIMM tenor label in days (week 7, month 365/12, year 365 days)."""
        per_year = float(self.data["days_per_year"])
        unit, n = next(iter(self.data["tenor_lengths"][tenor].items()))
        return float(n) * {"weeks": 7.0, "months": per_year / 12.0, "years": per_year}[unit]


def _group_of(code: str, groups: Mapping[str, Sequence[str]], other: str) -> str:
    return next((g for g, members in groups.items() if code in members), other)


def load_parameters(version: str = DEFAULT_VERSION) -> SimmParameters:
    """The parameters of a SIMM version shipped with xvaflow (``"2.6"``)."""
    name = f"simm_{version.replace('.', '_')}.json"
    resource = importlib.resources.files("xvaflow.margin").joinpath("data", name)
    if not resource.is_file():
        raise ValueError(f"SIMM version {version!r} is not shipped with xvaflow "
                         f"(available: {DEFAULT_VERSION})")
    return _checked(json.loads(resource.read_text(encoding="utf-8")), name)


def parameters_from_file(path: str | Path) -> SimmParameters:
    """Parameters of another SIMM version from a JSON file of the same schema."""
    p = Path(path)
    return _checked(json.loads(p.read_text(encoding="utf-8")), p.name)


def _checked(data: Any, name: str) -> SimmParameters:
    """Shape checks that catch a mistyped parameter file before it gives a wrong margin."""
    def matrix(m: Any, n: int, what: str) -> None:
        a = np.asarray(m, dtype=float)
        if a.shape != (n, n) or not np.allclose(a, a.T) or not np.all(np.diag(a) == 1.0):
            raise ValueError(f"{name}: {what} must be a symmetric {n}x{n} matrix with unit "
                             "diagonal")

    try:
        ir, eq = data["interest_rate"], data["equity"]
        if tuple(ir["tenors"]) != TENORS or tuple(eq["buckets"]) != EQUITY_BUCKETS:
            raise ValueError(f"{name}: tenors or equity buckets differ from the CRIF's")
        matrix(ir["tenor_correlation"], len(TENORS), "interest_rate.tenor_correlation")
        matrix(eq["inter_bucket_correlation"], 12, "equity.inter_bucket_correlation")
        rc = data["risk_class_correlation"]
        matrix(rc["matrix"], len(rc["risk_classes"]), "risk_class_correlation.matrix")
        for hp in data["holding_periods"].values():
            for bucket, weights in hp["interest_rate"]["delta_risk_weights"].items():
                if len(weights) != len(TENORS):
                    raise ValueError(f"{name}: IR risk weights of bucket {bucket} must have "
                                     f"{len(TENORS)} tenors")
        return SimmParameters(data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{name}: not a SIMM parameter file ({exc!r} missing or malformed)"
                         ) from exc


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True, eq=False)
class _Bucket:
    """One bucket of one margin: its factors' columns and the static matrices.

    ``x = s[:, cols] @ weights`` are the entries' risk-weighted sensitivities before
    concentration (entries: risk factors after merging CRIF rows that SIMM treats as one,
    e.g. the tenors of one issuer's volatility); ``s[:, cols] @ conc_weights`` are the sums
    compared with ``thresholds`` (one column per concentration group); ``entry_group`` maps
    entries to groups; ``corr`` is rho (rho^2 for curvature).
    """

    name: str
    cols: IntArray
    weights: FloatArray
    conc_weights: FloatArray
    thresholds: FloatArray
    entry_group: IntArray
    corr: FloatArray
    use_f: bool


@dataclass(frozen=True, eq=False)
class _Block:
    """One margin: (product class, risk class, margin type) with its buckets.

    ``gamma`` (zero diagonal) correlates the non-residual buckets, already squared for
    curvature; ``use_g`` applies g_bc from the buckets' first concentration group (IR);
    ``residual`` is added outside the square root; ``scale`` multiplies the margin (IR
    curvature: HVR_IR^-2).
    """

    product_class: str
    risk_class: str
    margin_type: str
    buckets: tuple[_Bucket, ...]
    gamma: FloatArray
    use_g: bool
    residual: _Bucket | None
    curvature: bool
    scale: float
    bucket_names: bool  # report K_b per bucket (not for FX: its single bucket is the class)

    @property
    def key(self) -> str:
        return f"{self.product_class}/{self.risk_class}/{self.margin_type}"


@dataclass(frozen=True, eq=False)
class SimmLayout:
    """The SIMM calculation compiled for a fixed set of risk factors.

    Attributes:
        name: SIMM version name for outputs, e.g. ``"ISDA SIMM v2.6"``.
        version: e.g. ``"2.6"``.
        mpor_days: margin period of risk of the calibration used (10 or 1).
        calculation_currency: SIMM calculation currency (results are in USD).
        factors: the risk factors, in the column order of the sensitivities.
        index: risk factor -> column.
        blocks: the margins to compute.
        psi: risk-class correlation matrix over :data:`RISK_CLASSES`.
        lambda_quantile_sq: Phi^{-1}(99.5%)^2 of the curvature lambda.
        product_classes: the product classes present, in :data:`PRODUCT_CLASSES` order.
    """

    name: str
    version: str
    mpor_days: int
    calculation_currency: str
    factors: tuple[RiskFactor, ...]
    index: Mapping[RiskFactor, int]
    blocks: tuple[_Block, ...]
    psi: FloatArray
    lambda_quantile_sq: float
    product_classes: tuple[str, ...]

    @property
    def n_factors(self) -> int:
        return len(self.factors)

    def output_keys(self) -> list[str]:
        """The keys :func:`simm_margin` returns, in order."""
        out = ["Total"]
        for pc in self.product_classes:
            out.append(pc)
            blocks = [b for b in self.blocks if b.product_class == pc]
            for rc in RISK_CLASSES:
                mine = [b for b in blocks if b.risk_class == rc]
                if mine:
                    out.append(f"{pc}/{rc}")
                for b in mine:
                    out.append(b.key)
                    if b.bucket_names:
                        out += [f"{b.key}/{k.name}" for k in b.buckets]
                        out += [f"{b.key}/{b.residual.name}"] if b.residual else []
            out += [f"{pc}/All/{mt}" for mt in MARGIN_TYPES
                    if any(b.margin_type == mt for b in blocks)]
        return out


class _BucketBuilder:
    """Collects the entries of one bucket, then builds its matrices."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cols: dict[int, int] = {}
        self.entries: dict[_Entry, int] = {}
        self.entry_group: dict[int, int] = {}
        self.groups: dict[str, int] = {}
        self.thresholds: list[float] = []
        self.weights: list[tuple[int, int, float]] = []
        self.conc: list[tuple[int, int, float]] = []

    def group(self, key: str, threshold: float) -> int:
        if key not in self.groups:
            self.groups[key] = len(self.groups)
            self.thresholds.append(threshold)
        return self.groups[key]

    def add(self, factor: int, entry: _Entry, weight: float, group: int,
            conc_weight: float = 0.0) -> None:
        col = self.cols.setdefault(factor, len(self.cols))
        e = self.entries.setdefault(entry, len(self.entries))
        if self.entry_group.setdefault(e, group) != group:
            raise ValueError(f"entry {entry!r} of bucket {self.name} is in two concentration "
                             "groups")
        self.weights.append((col, e, weight))
        self.conc.append((col, group, conc_weight))

    def build(self, corr: Callable[[_Entry, _Entry], float], use_f: bool) -> _Bucket:
        n, m, g = len(self.cols), len(self.entries), len(self.groups)
        w = np.zeros((n, m))
        for col, e, x in self.weights:
            w[col, e] += x
        c = np.zeros((n, g))
        for col, grp, x in self.conc:
            c[col, grp] += x
        keys = list(self.entries)
        rho = np.array([[1.0 if a == b else corr(a, b) for b in keys] for a in keys])
        return _Bucket(self.name, np.fromiter(self.cols, dtype=np.int64, count=n), w, c,
                       np.asarray(self.thresholds, dtype=float),
                       np.array([self.entry_group[e] for e in range(m)], dtype=np.int64),
                       rho.reshape(m, m), use_f)


def risk_factor(record: CrifRecord) -> RiskFactor:
    """The risk factor key of a CRIF record (rows with equal keys are summed)."""
    return (record.product_class, record.risk_type, record.qualifier, record.bucket,
            record.label1, record.label2)


def crif_sensitivities(records: Iterable[CrifRecord]) -> tuple[tuple[RiskFactor, ...],
                                                               FloatArray]:
    """Risk factors in first-seen order and their summed USD amounts (shape ``[n]``)."""
    sums: dict[RiskFactor, float] = {}
    for r in records:
        k = risk_factor(r)
        sums[k] = sums.get(k, 0.0) + r.amount_usd
    return tuple(sums), np.fromiter(sums.values(), dtype=float, count=len(sums))


def compile_layout(factors: Sequence[RiskFactor], parameters: SimmParameters | None = None, *,
                   mpor_days: int = 10, calculation_currency: str = "USD") -> SimmLayout:
    """Compile the SIMM calculation for a set of risk factors.

    Args:
        factors: distinct risk factors (:func:`risk_factor` of validated CRIF records); the
            sensitivities given to :func:`simm_margin` follow this column order.
        parameters: the SIMM version (default: :func:`load_parameters` of v2.6).
        mpor_days: 10 (standard) or 1 (one-day calibration: its risk weights, no
            concentration, 1.4-day vega/curvature horizon; SIMM Technical Paper section I).
        calculation_currency: its FX delta is ignored, and its volatility group selects the FX
            risk weights and correlations (v2.6 section I).

    Raises:
        ValueError: a factor that is not a supported SIMM risk factor, a duplicate factor, or
            a holding period the parameters lack.
    """
    p = parameters or load_parameters()
    index: dict[RiskFactor, int] = {}
    for i, f in enumerate(factors):
        if (why := _invalid(f)) is not None:
            raise ValueError(f"risk factor {f}: {why}")
        if f in index:
            raise ValueError(f"risk factor {f} appears twice (sum the sensitivities first)")
        index[f] = i
    ctx = _Context(p, mpor_days, calculation_currency.upper())
    blocks: list[_Block] = []
    for pc in PRODUCT_CLASSES:
        mine = [(i, f) for i, f in enumerate(factors) if f[0] == pc]
        blocks += [b for b in ctx.blocks(pc, mine) if b.buckets or b.residual]
    rc = p.data["risk_class_correlation"]
    where = [list(rc["risk_classes"]).index(r) for r in RISK_CLASSES]
    psi = np.asarray(rc["matrix"], dtype=float)[np.ix_(where, where)]
    q = float(ndtri(float(p.data["curvature"]["lambda_quantile"])))
    return SimmLayout(p.name, p.version, mpor_days, ctx.calc, tuple(factors), index,
                      tuple(blocks), psi, q * q,
                      tuple(pc for pc in PRODUCT_CLASSES if any(b.product_class == pc
                                                               for b in blocks)))


_NO_CONCENTRATION = math.inf


def _invalid(f: RiskFactor) -> str | None:
    """Why ``f`` is not a risk factor this calculator handles (None when it is): the CRIF
    reader checks the same for files; this guards factors built by code."""
    pc, rt, q, bucket, label1, label2 = f
    if pc not in PRODUCT_CLASSES:
        return f"unknown product class {pc!r}"
    if rt not in SUPPORTED_RISK_TYPES:
        return f"risk type {rt!r} is not supported"
    if rt in ("Risk_Equity", "Risk_EquityVol"):
        if bucket not in EQUITY_BUCKETS:
            return f"equity bucket {bucket!r} is not one of {', '.join(EQUITY_BUCKETS)}"
    elif rt == "Risk_FXVol":
        if not (len(q) == 6 and q.isalpha() and q.isupper() and q[:3] != q[3:]):
            return f"FX volatility qualifier {q!r} is not a currency pair such as EURUSD"
    elif not (len(q) == 3 and q.isalpha() and q.isupper()):
        return f"qualifier {q!r} is not a currency code"
    needs_tenor = rt in ("Risk_IRCurve", *IR_VEGA_TYPES, "Risk_FXVol", "Risk_EquityVol")
    if needs_tenor and label1 not in TENORS:
        return f"tenor {label1!r} is not one of {', '.join(TENORS)}"
    if rt == "Risk_IRCurve" and label2 not in SUB_CURVES:
        return f"sub-curve {label2!r} is not one of {', '.join(SUB_CURVES)}"
    return None


class _Context:
    """Parameter look-ups for one SIMM version, holding period and calculation currency."""

    def __init__(self, p: SimmParameters, mpor_days: int, calc: str) -> None:
        self.p = p
        self.hp = p.holding_period(mpor_days)
        self.calc = calc
        self.concentration = bool(self.hp["concentration"])
        self.unit = float(p.data["threshold_unit"])
        per_year = float(p.data["days_per_year"])
        horizon = float(self.hp["horizon_days"])
        self.sigma_multiplier = (math.sqrt(per_year / horizon)
                                 / float(ndtri(float(p.data["vega_sigma_quantile"]))))
        scale = float(p.data["curvature"]["scale"])
        self.sf = {t: scale * min(1.0, horizon / p.tenor_days(t)) for t in TENORS}
        self.tenor_rho = np.asarray(p.data["interest_rate"]["tenor_correlation"], dtype=float)

    def threshold(self, value: float) -> float:
        return value * self.unit if self.concentration else _NO_CONCENTRATION

    # ---- dispatch

    def blocks(self, pc: str, factors: list[tuple[int, RiskFactor]]) -> list[_Block]:
        def of(types: Iterable[str]) -> list[tuple[int, RiskFactor]]:
            t = tuple(types)
            return [(i, f) for i, f in factors if f[1] in t]

        ir_vol = of(IR_VEGA_TYPES)
        fx_vol = of(["Risk_FXVol"])
        eq_vol = of(["Risk_EquityVol"])
        return [self.ir_delta(pc, of(IR_DELTA_TYPES)),
                self.ir_vega(pc, ir_vol), self.ir_curvature(pc, ir_vol),
                self.fx_delta(pc, of(["Risk_FX"])),
                self.fx_vega(pc, fx_vol, curvature=False), self.fx_vega(pc, fx_vol, True),
                self.eq_delta(pc, of(["Risk_Equity"])),
                self.eq_vega(pc, eq_vol, curvature=False), self.eq_vega(pc, eq_vol, True)]

    # ---- interest rate (section D)

    def _by_currency(self, factors: list[tuple[int, RiskFactor]]
                     ) -> dict[str, list[tuple[int, RiskFactor]]]:
        out: dict[str, list[tuple[int, RiskFactor]]] = {}
        for i, f in factors:
            out.setdefault(f[2], []).append((i, f))
        return dict(sorted(out.items()))

    def _ir_conc_group(self, ccy: str) -> str:
        c = self.p.data["interest_rate"]["concentration"]
        return _group_of(ccy, c["groups"], c["other_group"])

    def ir_delta(self, pc: str, factors: list[tuple[int, RiskFactor]]) -> _Block:
        """K_b per currency over (tenor, sub-curve), inflation and XCcyBasis; g_bc across."""
        ir = self.p.data["interest_rate"]
        rw = self.hp["interest_rate"]
        phi = float(ir["sub_curve_correlation"])
        infl_rho, xccy_rho = float(ir["inflation_correlation"]), float(ir["xccy_basis_correlation"])

        def corr(a: _Entry, b: _Entry) -> float:
            ka, kb = a[0], b[0]
            if ka == kb == "curve":
                rho = float(self.tenor_rho[TENORS.index(a[1]), TENORS.index(b[1])])
                return rho * (1.0 if a[2] == b[2] else phi)
            if "xccy" in (ka, kb):
                return xccy_rho
            return infl_rho  # inflation with a curve tenor

        buckets = []
        for ccy, fs in self._by_currency(factors).items():
            bb = _BucketBuilder(ccy)
            # IRCurve and Inflation share the currency's CR; XCcyBasis has none (B.8).
            main = bb.group("main", self.threshold(
                float(ir["concentration"]["delta_thresholds"][self._ir_conc_group(ccy)])))
            none = bb.group("xccy", _NO_CONCENTRATION)
            weights = rw["delta_risk_weights"][self.p.ir_bucket(ccy)]
            for i, f in fs:
                if f[1] == "Risk_IRCurve":
                    bb.add(i, ("curve", f[4], f[5]), float(weights[TENORS.index(f[4])]), main,
                           1.0)
                elif f[1] == "Risk_Inflation":
                    bb.add(i, ("inflation",), float(rw["inflation_risk_weight"]), main, 1.0)
                else:
                    bb.add(i, ("xccy",), float(rw["xccy_basis_risk_weight"]), none)
            buckets.append(bb.build(corr, use_f=False))
        return self._block(pc, "InterestRate", "Delta", buckets,
                           float(ir["cross_currency_correlation"]), use_g=True)

    def ir_vega(self, pc: str, factors: list[tuple[int, RiskFactor]]) -> _Block:
        """IR vega: VR = vega, RW_vega, VCR per currency (IRVol + InflationVol), g_bc across."""
        ir = self.p.data["interest_rate"]
        vrw = float(self.hp["interest_rate"]["vega_risk_weight"])
        buckets = []
        for ccy, fs in self._by_currency(factors).items():
            bb = _BucketBuilder(ccy)
            main = bb.group("main", self.threshold(
                float(ir["concentration"]["vega_thresholds"][self._ir_conc_group(ccy)])))
            for i, f in fs:
                bb.add(i, self._ir_vol_entry(f), vrw, main, 1.0)
            buckets.append(bb.build(self._ir_vol_corr(squared=False), use_f=False))
        return self._block(pc, "InterestRate", "Vega", buckets,
                           float(ir["cross_currency_correlation"]), use_g=True)

    def ir_curvature(self, pc: str, factors: list[tuple[int, RiskFactor]]) -> _Block:
        """CVR = SF(t) vega per tenor (inflation volatility one entry); scaled HVR_IR^-2."""
        ir = self.p.data["interest_rate"]
        buckets = []
        for ccy, fs in self._by_currency(factors).items():
            bb = _BucketBuilder(ccy)
            none = bb.group("none", _NO_CONCENTRATION)
            for i, f in fs:
                bb.add(i, self._ir_vol_entry(f), self.sf[f[4]], none)
            buckets.append(bb.build(self._ir_vol_corr(squared=True), use_f=False))
        hvr = float(self.hp["interest_rate"]["historical_volatility_ratio"])
        gamma = float(ir["cross_currency_correlation"])
        return self._block(pc, "InterestRate", "Curvature", buckets, gamma * gamma,
                           use_g=False, curvature=True, scale=hvr ** -2)

    @staticmethod
    def _ir_vol_entry(f: RiskFactor) -> _Entry:
        # Inflation volatility is one risk factor per currency (its tenors correlate 100%).
        return ("vol", f[4]) if f[1] == "Risk_IRVol" else ("inflation_vol",)

    def _ir_vol_corr(self, squared: bool) -> Callable[[_Entry, _Entry], float]:
        infl = float(self.p.data["interest_rate"]["inflation_volatility_correlation"])

        def corr(a: _Entry, b: _Entry) -> float:
            if a[0] == b[0] == "vol":
                rho = float(self.tenor_rho[TENORS.index(a[1]), TENORS.index(b[1])])
            else:
                rho = infl
            return rho * rho if squared else rho

        return corr

    # ---- FX (section I)

    def _fx_group(self, ccy: str) -> str:
        return "high" if self.p.fx_high_volatility(ccy) else "regular"

    def _fx_rw(self, ccy1: str, ccy2: str) -> float:
        groups = sorted((self._fx_group(ccy1), self._fx_group(ccy2)), reverse=True)
        return float(self.hp["fx"]["delta_risk_weights"]["_".join(groups)])

    def fx_delta(self, pc: str, factors: list[tuple[int, RiskFactor]]) -> _Block:
        """One bucket; RW and rho from the volatility groups (calculation currency's too)."""
        fx = self.p.data["fx"]
        table = fx["delta_correlation"][f"{self._fx_group(self.calc)}_calculation_currency"]

        def corr(a: _Entry, b: _Entry) -> float:
            groups = sorted((self._fx_group(a[0]), self._fx_group(b[0])), reverse=True)
            return float(table["_".join(groups)])

        bb = _BucketBuilder("FX")
        for i, f in factors:
            ccy = f[2]
            if ccy == self.calc:
                continue  # the calculation currency carries no FX risk (section I)
            t = fx["concentration"]["delta_thresholds"][self.p.fx_concentration_group(ccy)]
            g = bb.group(ccy, self.threshold(float(t)))
            bb.add(i, (ccy,), self._fx_rw(ccy, self.calc), g, 1.0)
        buckets = [bb.build(corr, use_f=True)] if bb.entries else []
        return self._block(pc, "FX", "Delta", buckets, 0.0, use_g=False, bucket_names=False)

    def fx_vega(self, pc: str, factors: list[tuple[int, RiskFactor]], curvature: bool) -> _Block:
        """Per currency pair: sigma = RW_FX(pair) sqrt(365/14)/Phi^{-1}(99%); VR = HVR sigma v."""
        fx = self.p.data["fx"]
        hvr = float(self.hp["fx"]["historical_volatility_ratio"])
        vrw = float(self.hp["fx"]["vega_risk_weight"])
        rho = float(fx["vega_correlation"])
        bb = _BucketBuilder("FX")
        for i, f in factors:
            a, b = f[2][:3], f[2][3:]
            pair = min(a + b, b + a)  # EURUSD and USDEUR are one risk factor
            sigma = self._fx_rw(a, b) * self.sigma_multiplier
            if curvature:
                bb.add(i, (pair,), self.sf[f[4]] * sigma, bb.group("none", _NO_CONCENTRATION))
            else:
                cats = sorted((self.p.fx_concentration_group(a), self.p.fx_concentration_group(b)))
                t = fx["concentration"]["vega_thresholds"]["-".join(cats)]
                g = bb.group(pair, self.threshold(float(t)))
                bb.add(i, (pair,), vrw * hvr * sigma, g, hvr * sigma)
        r = rho * rho if curvature else rho
        buckets = [bb.build(lambda x, y: r, use_f=not curvature)] if bb.entries else []
        return self._block(pc, "FX", "Curvature" if curvature else "Vega", buckets, 0.0,
                           use_g=False, curvature=curvature, bucket_names=False)

    # ---- equity (section G)

    def _eq_buckets(self, factors: list[tuple[int, RiskFactor]]
                    ) -> list[tuple[str, list[tuple[int, RiskFactor]]]]:
        out: dict[str, list[tuple[int, RiskFactor]]] = {}
        for i, f in factors:
            out.setdefault(f[3], []).append((i, f))
        return sorted(out.items(), key=lambda kv: EQUITY_BUCKETS.index(kv[0]))

    def _eq_corr(self, bucket: str, squared: bool) -> Callable[[_Entry, _Entry], float]:
        rho = float(self.p.data["equity"]["intra_bucket_correlation"][bucket])
        r = rho * rho if squared else rho
        return lambda a, b: r  # different issuers; the same issuer is one entry

    def eq_delta(self, pc: str, factors: list[tuple[int, RiskFactor]]) -> _Block:
        """Per bucket, one entry per issuer with its CR; residual bucket added outside."""
        eq = self.p.data["equity"]
        rw = self.hp["equity"]["delta_risk_weights"]
        buckets = []
        for bucket, fs in self._eq_buckets(factors):
            bb = _BucketBuilder(bucket)
            t = self.threshold(float(eq["concentration"]["delta_thresholds"][bucket]))
            for i, f in fs:
                bb.add(i, (f[2],), float(rw[bucket]), bb.group(f[2], t), 1.0)
            buckets.append(bb.build(self._eq_corr(bucket, squared=False), use_f=True))
        return self._eq_block(pc, "Delta", buckets, curvature=False)

    def eq_vega(self, pc: str, factors: list[tuple[int, RiskFactor]], curvature: bool) -> _Block:
        """sigma_b = RW_delta,b sqrt(365/14)/Phi^{-1}(99%); VR = HVR sigma v; CVR = SF sigma v."""
        eq = self.p.data["equity"]
        hp = self.hp["equity"]
        hvr = float(hp["historical_volatility_ratio"])
        zero = set(eq["curvature_zero_buckets"])
        buckets = []
        for bucket, fs in self._eq_buckets(factors):
            bb = _BucketBuilder(bucket)
            sigma = float(hp["delta_risk_weights"][bucket]) * self.sigma_multiplier
            if curvature:
                none = bb.group("none", _NO_CONCENTRATION)
                for i, f in fs:
                    sf = 0.0 if bucket in zero else self.sf[f[4]]
                    bb.add(i, (f[2],), sf * sigma, none)
            else:
                t = self.threshold(float(eq["concentration"]["vega_thresholds"][bucket]))
                vrw = float(hp["vega_risk_weights"][bucket])
                for i, f in fs:
                    bb.add(i, (f[2],), vrw * hvr * sigma, bb.group(f[2], t), hvr * sigma)
            buckets.append(bb.build(self._eq_corr(bucket, squared=curvature),
                                    use_f=not curvature))
        return self._eq_block(pc, "Curvature" if curvature else "Vega", buckets, curvature)

    def _eq_block(self, pc: str, margin_type: str, buckets: list[_Bucket],
                  curvature: bool) -> _Block:
        residual_name = str(self.p.data["equity"]["residual_bucket"])
        residual = next((b for b in buckets if b.name == residual_name), None)
        regular = [b for b in buckets if b.name != residual_name]
        inter = np.asarray(self.p.data["equity"]["inter_bucket_correlation"], dtype=float)
        idx = [int(b.name) - 1 for b in regular]
        gamma = inter[np.ix_(idx, idx)]
        if curvature:
            gamma = gamma * gamma
        np.fill_diagonal(gamma, 0.0)
        return _Block(pc, "Equity", margin_type, tuple(regular), gamma, False, residual,
                      curvature, 1.0, True)

    @staticmethod
    def _block(pc: str, rc: str, mt: str, buckets: list[_Bucket], gamma: float, *,
               use_g: bool, curvature: bool = False, scale: float = 1.0,
               bucket_names: bool = True) -> _Block:
        n = len(buckets)
        g = np.full((n, n), gamma)
        np.fill_diagonal(g, 0.0)
        return _Block(pc, rc, mt, tuple(buckets), g, use_g, None, curvature, scale,
                      bucket_names)


# --------------------------------------------------------------------------- kernel


def simm_margin(layout: SimmLayout, sensitivities: Any, xp: ModuleType = np) -> dict[str, Any]:
    """SIMM of a batch of sensitivity vectors.

    Args:
        layout: from :func:`compile_layout`.
        sensitivities: USD amounts, shape ``[batch, n_factors]`` in ``layout.factors`` order
            (a ``[n_factors]`` vector is batch 1).
        xp: array namespace (numpy, or cupy for sensitivities on a GPU).

    Returns:
        Arrays of shape ``[batch]``: ``"Total"``; per product class ``"RatesFX"``; per risk
        class ``"RatesFX/InterestRate"`` (= delta + vega + curvature); per margin
        ``"RatesFX/InterestRate/Delta"``; per bucket ``.../Delta/USD`` (K_b; curvature K_b
        before lambda and scaling); per product class and margin type across risk classes
        ``"RatesFX/All/Delta"`` (psi-aggregated). Keys: ``layout.output_keys()``.

    Example:
        >>> from xvaflow.margin.simm import compile_layout, simm_margin
        >>> layout = compile_layout([("RatesFX", "Risk_IRCurve", "USD", "", "10y", "OIS")])
        >>> float(simm_margin(layout, [[1000.0]])["Total"][0])  # RW 60 x 1000, CR = 1
        60000.0
    """
    s = xp.asarray(sensitivities, dtype=xp.float64)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2 or s.shape[1] != layout.n_factors:
        raise ValueError(f"sensitivities must have shape [batch, {layout.n_factors}], got "
                         f"{tuple(s.shape)}")
    out: dict[str, Any] = {}
    zero = xp.zeros(s.shape[0], dtype=xp.float64)
    by_rc: dict[tuple[str, str], Any] = {}
    by_mt: dict[tuple[str, str, str], Any] = {}
    for block in layout.blocks:
        margin, per_bucket = _block_margin(block, s, xp, layout.lambda_quantile_sq)
        out[block.key] = margin
        if block.bucket_names:
            out.update({f"{block.key}/{name}": k for name, k in per_bucket.items()})
        pc_rc = (block.product_class, block.risk_class)
        by_rc[pc_rc] = by_rc.get(pc_rc, zero) + margin
        by_mt[(*pc_rc, block.margin_type)] = margin
    total = zero
    for pc in layout.product_classes:
        im = [by_rc.get((pc, rc), zero) for rc in RISK_CLASSES]
        out[pc] = _psi_sum(layout.psi, im, xp)
        total = total + out[pc]
        for rc, v in zip(RISK_CLASSES, im, strict=True):
            if (pc, rc) in by_rc:
                out[f"{pc}/{rc}"] = v
        for mt in MARGIN_TYPES:
            parts = [by_mt.get((pc, rc, mt)) for rc in RISK_CLASSES]
            if any(v is not None for v in parts):
                out[f"{pc}/All/{mt}"] = _psi_sum(
                    layout.psi, [zero if v is None else v for v in parts], xp)
    out["Total"] = total
    return {k: out[k] for k in layout.output_keys()}


def _psi_sum(psi: FloatArray, im: Sequence[Any], xp: ModuleType) -> Any:
    """sqrt(sum_r sum_s psi_rs IM_r IM_s): SIMM_product of the methodology's section B."""
    acc = 0.0
    for r, a in enumerate(im):
        for c, b in enumerate(im):
            acc = acc + float(psi[r, c]) * a * b
    return xp.sqrt(xp.maximum(acc, 0.0))


def _bucket_terms(b: _Bucket, s: Any, xp: ModuleType) -> tuple[Any, Any, Any, Any]:
    """(K_b, sum of WS, x = risk-weighted entries before concentration, CR of group 0)."""
    sb = s[:, xp.asarray(b.cols)]
    x = sb @ xp.asarray(b.weights)
    cr = xp.maximum(1.0, xp.sqrt(xp.abs(sb @ xp.asarray(b.conc_weights))
                                 / xp.asarray(b.thresholds)))
    cre = cr[:, xp.asarray(b.entry_group)]
    ws = x * cre
    corr = xp.asarray(b.corr)
    if b.use_f:
        # f_kl WS_k WS_l = x_k x_l min(CR_k, CR_l)^2 (f = min/max, WS = x CR)
        m = xp.minimum(cre[:, :, None], cre[:, None, :])
        k2 = xp.sum(x[:, :, None] * x[:, None, :] * (m * m) * corr, axis=(1, 2))
    else:
        k2 = xp.sum((ws @ corr) * ws, axis=1)
    return xp.sqrt(xp.maximum(k2, 0.0)), xp.sum(ws, axis=1), x, cr[:, 0]


def _block_margin(block: _Block, s: Any, xp: ModuleType,
                  q2: float) -> tuple[Any, dict[str, Any]]:
    """One margin of the batch, and K_b per bucket (q2: Phi^{-1}(99.5%)^2 of lambda)."""
    n = s.shape[0]
    per_bucket: dict[str, Any] = {}
    ks, ss, crs = [], [], []
    sum_cvr = xp.zeros(n, dtype=xp.float64)
    sum_abs = xp.zeros(n, dtype=xp.float64)
    for b in block.buckets:
        k, ws_sum, x, cr = _bucket_terms(b, s, xp)
        per_bucket[b.name] = k
        ks.append(k)
        ss.append(xp.maximum(xp.minimum(ws_sum, k), -k))
        crs.append(cr)
        sum_cvr = sum_cvr + xp.sum(x, axis=1)
        sum_abs = sum_abs + xp.sum(xp.abs(x), axis=1)
    if ks:
        kk, sv = xp.stack(ks, axis=1), xp.stack(ss, axis=1)
        cross = sv[:, :, None] * sv[:, None, :] * xp.asarray(block.gamma)
        if block.use_g:
            c = xp.stack(crs, axis=1)
            cross = cross * (xp.minimum(c[:, :, None], c[:, None, :])
                             / xp.maximum(c[:, :, None], c[:, None, :]))
        inner = xp.sqrt(xp.maximum(xp.sum(kk * kk, axis=1) + xp.sum(cross, axis=(1, 2)), 0.0))
    else:
        inner = xp.zeros(n, dtype=xp.float64)
    margin = _curvature(sum_cvr, sum_abs, inner, q2, xp) if block.curvature else inner
    if block.residual is not None:
        k, _, x, _ = _bucket_terms(block.residual, s, xp)
        per_bucket[block.residual.name] = k
        if block.curvature:
            k = _curvature(xp.sum(x, axis=1), xp.sum(xp.abs(x), axis=1), k, q2, xp)
        margin = margin + k
    return block.scale * margin, per_bucket


def _curvature(sum_cvr: Any, sum_abs: Any, root: Any, q2: float, xp: ModuleType) -> Any:
    """max(sum CVR + lambda(theta) root, 0), theta = min(sum CVR / sum |CVR|, 0) (B.11)."""
    # A bucket set without curvature risk has sum |CVR| = 0: theta = 0 then, and margin 0.
    theta = xp.minimum(sum_cvr / xp.where(sum_abs > 0.0, sum_abs, 1.0), 0.0)
    lam = (q2 - 1.0) * (1.0 + theta) - theta
    return xp.maximum(sum_cvr + lam * root, 0.0)


# --------------------------------------------------------------------------- one CRIF


@dataclass(frozen=True)
class SimmResult:
    """SIMM of one CRIF, in USD.

    Attributes:
        name: SIMM version, e.g. ``"ISDA SIMM v2.6"``.
        mpor_days: holding period of the calibration.
        calculation_currency: SIMM calculation currency.
        margins: the breakdown (keys as :func:`simm_margin` returns them).
    """

    name: str
    mpor_days: int
    calculation_currency: str
    margins: Mapping[str, float]

    @property
    def total(self) -> float:
        return self.margins["Total"]


def simm(records: Iterable[CrifRecord], parameters: SimmParameters | None = None, *,
         mpor_days: int = 10, calculation_currency: str = "USD") -> SimmResult:
    """SIMM (call side) of one CRIF: :func:`compile_layout` and :func:`simm_margin`, batch 1.

    Rows with the same risk factor (product class, risk type, qualifier, bucket, labels) are
    summed first, as SIMM treats them as one sensitivity.
    """
    factors, amounts = crif_sensitivities(records)
    layout = compile_layout(factors, parameters, mpor_days=mpor_days,
                            calculation_currency=calculation_currency)
    margins = simm_margin(layout, amounts[None, :])
    return SimmResult(layout.name, mpor_days, layout.calculation_currency,
                      {k: float(v[0]) for k, v in margins.items()})
