"""The portfolio's CRIF (xvaflow.margin.sensitivities) against closed forms, and the
``xvaflow margin`` command.

- IR delta: the twelve tenor hats add up to a parallel shift, so each trade's bucketed deltas
  sum to its parallel +1bp value change (repriced on ``ZeroCurve.shifted``), to second order:
  1e-3 relative (+ 1e-6 of the notional for trades with next to no rate risk).
- FX and equity delta of forwards: linear in the spot, so the 1% bump equals the closed form
  exactly (1e-9 relative): an FX forward's delta in currency c is 1% of its net amount in c
  discounted and converted to USD; an equity forward's is 1% of q S exp(-yT).
- Vega x vol of FX and equity options: Black's vega times the implied vol, against the
  central difference of a 1% relative bump, whose error is O(1e-4) relative: 1e-3.
- The expiry split puts each option's vega on the two SIMM tenors around its expiry, in
  proportion to the distance in time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from scipy.stats import norm

from xvaflow.cli import main
from xvaflow.io.portfolio import load_portfolio
from xvaflow.margin import sensitivities, simm
from xvaflow.margin.crif import TENORS
from xvaflow.margin.sensitivities import bucket_curve, hat, portfolio_crif, vertex_years
from xvaflow.portfolio import Portfolio
from xvaflow.pricing.t0 import price_t0
from xvaflow.products.records import EquityTrade, FxForwardTrade, FxOptionTrade
from xvaflow.report.schema import results_schema

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
YEARS = vertex_years(load_portfolio(DEMO).market.as_of)


@pytest.fixture(scope="module")
def book() -> Portfolio:
    return load_portfolio(DEMO)


@pytest.fixture(scope="module")
def crif(book: Portfolio) -> dict[tuple[str, str, str], float]:
    """(trade, risk type, qualifier) -> the sum of its rows (over tenors and labels)."""
    out: dict[tuple[str, str, str], float] = defaultdict(float)
    for r in portfolio_crif(book).records:
        out[(r.trade_id, r.risk_type, r.qualifier)] += r.amount_usd
    return out


def _years(book: Portfolio, date: object) -> float:
    return float((date - book.market.as_of).days) / 365.0  # type: ignore[operator]


def test_hats_add_up_to_one_and_bump_the_curve_exactly(book: Portfolio) -> None:
    t = np.concatenate([np.linspace(0.0, 40.0, 997), YEARS])
    assert np.allclose(sum(hat(YEARS, k, t) for k in range(len(TENORS))), 1.0, atol=1e-15)
    curve = book.market.curve("USD")
    for k in (0, 5, 11):
        bumped = bucket_curve(curve, YEARS, k, 1e-4)
        assert np.allclose(bumped.zero_rate(t) - curve.zero_rate(t), 1e-4 * hat(YEARS, k, t),
                           atol=1e-16)


def test_bucketed_ir_deltas_sum_to_the_parallel_pv01(book: Portfolio,
                                                     crif: dict[tuple[str, str, str], float]
                                                     ) -> None:
    market = book.market
    base = price_t0(book.compiled, market).npv_base
    usd = market.fx_rate(market.base_currency, "USD")
    checked = 0
    for ccy in book.compiled.currencies:
        shifted = dataclasses.replace(market, curves={
            **market.curves, ccy: market.curves[ccy].shifted(1e-4)})
        parallel = (price_t0(book.compiled, shifted).npv_base - base) * usd
        for i, trade in enumerate(book.trades):
            ours = crif.get((trade.info.trade_id, "Risk_IRCurve", ccy), 0.0)
            assert ours == pytest.approx(parallel[i], rel=1e-3,
                                         abs=1e-6 * abs(trade.info.notional)), (trade, ccy)
            checked += abs(parallel[i]) > 1.0
    assert checked >= 20  # every rates trade in each of its currencies


def test_fx_delta_of_forwards_is_the_discounted_net_amount(
        book: Portfolio, crif: dict[tuple[str, str, str], float]) -> None:
    market = book.market
    forwards = [t for t in book.trades if isinstance(t, FxForwardTrade)]
    assert forwards
    for t in forwards:
        T = _years(book, t.info.maturity)
        for ccy in {t.buy_currency, t.sell_currency} - {"USD"}:
            net = (t.buy_amount if ccy == t.buy_currency else 0.0) - \
                (t.sell_amount if ccy == t.sell_currency else 0.0)
            expected = 0.01 * net * float(market.discount(ccy, T)) * market.fx_rate(ccy, "USD")
            assert crif[(t.info.trade_id, "Risk_FX", ccy)] == pytest.approx(expected, rel=1e-9)


def test_equity_delta_of_a_forward_and_vega_of_options(
        book: Portfolio, crif: dict[tuple[str, str, str], float]) -> None:
    market = book.market
    seen = 0
    for t in (t for t in book.trades if isinstance(t, EquityTrade)):
        spec = market.equity(t.underlying)
        T = _years(book, t.expiry)
        usd = market.fx_rate(spec.currency, "USD")
        fwd_disc = spec.spot * math.exp(-spec.dividend_yield * T)  # F P(T)
        if t.option_type is None:
            expected = 0.01 * t.sign * t.quantity * fwd_disc * usd
            assert crif[(t.info.trade_id, "Risk_Equity", t.underlying)] == \
                pytest.approx(expected, rel=1e-9)
        else:
            sigma = float(spec.vol.vol(T))
            d1 = (math.log(fwd_disc / (t.strike * float(market.discount(spec.currency, T))))
                  + 0.5 * sigma**2 * T) / (sigma * math.sqrt(T))
            vega = t.sign * t.quantity * fwd_disc * norm.pdf(d1) * math.sqrt(T) * sigma * usd
            assert crif[(t.info.trade_id, "Risk_EquityVol", t.underlying)] == \
                pytest.approx(vega, rel=1e-3)
        seen += 1
    assert seen == 4


def test_fx_option_vega_and_its_split_over_tenors(book: Portfolio) -> None:
    market = book.market
    rows = portfolio_crif(book).records
    options = [t for t in book.trades if isinstance(t, FxOptionTrade)]
    assert options
    for t in options:
        T = _years(book, t.expiry)
        P = _years(book, t.info.maturity)
        pair = t.buy_currency + t.sell_currency
        sigma = float(market.fx_vol(pair, T))
        spot = market.fx_rate(t.buy_currency, t.sell_currency)
        p_buy = float(market.discount(t.buy_currency, P))
        p_sell = float(market.discount(t.sell_currency, P))
        fwd = spot * p_buy / p_sell
        strike = t.sell_amount / t.buy_amount
        d1 = (math.log(fwd / strike) + 0.5 * sigma**2 * T) / (sigma * math.sqrt(T))
        vega = t.sign * t.buy_amount * p_sell * fwd * norm.pdf(d1) * math.sqrt(T) * sigma \
            * market.fx_rate(t.sell_currency, "USD")
        mine = [r for r in rows if r.trade_id == t.info.trade_id and r.risk_type == "Risk_FXVol"]
        assert sum(r.amount_usd for r in mine) == pytest.approx(vega, rel=1e-3)
        k = int(np.searchsorted(YEARS, T)) - 1
        assert [r.label1 for r in mine] == [TENORS[k], TENORS[k + 1]]
        w = (YEARS[k + 1] - T) / (YEARS[k + 1] - YEARS[k])
        assert mine[0].amount_usd == pytest.approx(w * (mine[0].amount_usd + mine[1].amount_usd),
                                                   rel=1e-12)


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------
def test_margin_command_publishes_simm_and_its_crif(tmp_path: Path, book: Portfolio,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m"
    assert main(["margin", str(DEMO), "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(Draft202012Validator(results_schema()).iter_errors(doc)) == []
    im = doc["initial_margin"]
    assert im["model"] == "ISDA SIMM v2.6"
    assert list(im["netting_sets"]) == list(book.compiled.netting_set_ids)
    records = portfolio_crif(book).records
    for ns, entry in im["netting_sets"].items():
        mine = [r for r in records if r.portfolio_id == ns]
        assert entry["received_usd"] == pytest.approx(simm(mine).total, rel=1e-12)
        assert entry["received"] > 0.0
        assert entry["posted"] > 0.0
    # the CRIF written is the one computed, and read back gives the same SIMM
    again = tmp_path / "again"
    assert main(["margin", str(DEMO), "--crif", str(out / "crif.csv"), "--out",
                 str(again)]) == 0
    redo = json.loads((again / "results.json").read_text(encoding="utf-8"))["initial_margin"]
    assert redo["source"] == "crif.csv"
    for ns, entry in im["netting_sets"].items():
        assert redo["netting_sets"][ns]["received"] == pytest.approx(entry["received"],
                                                                      rel=1e-12)
        assert redo["netting_sets"][ns]["posted"] == pytest.approx(entry["posted"], rel=1e-12)


def test_margin_errors_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,AmountUSD\n"
                   "RatesFX,Risk_CreditQ,X,1,5y,,100\n", encoding="utf-8")
    assert main(["margin", str(DEMO), "--crif", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv row 2" in err
    assert "Risk_CreditQ" in err
    assert "Traceback" not in err
    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo)
    text = (demo / "market.json").read_text(encoding="utf-8")
    (demo / "market.json").write_text(text.replace('"simm_bucket": 11', '"simm_bucket": 13', 1),
                                      encoding="utf-8")
    assert main(["margin", str(demo), "--out", str(tmp_path / "o")]) == 2
    assert "equities.SPX.simm_bucket: must be an ISDA SIMM equity bucket" in \
        capsys.readouterr().err
    (demo / "market.json").write_text(text.replace(',\n            "simm_bucket": 11', ""),
                                      encoding="utf-8")
    assert main(["margin", str(demo), "--out", str(tmp_path / "o")]) == 0
    assert "equities.SPX.simm_bucket: not given: its SIMM equity risk is in the Residual" in \
        capsys.readouterr().err


def test_repricing_only_the_trades_a_bump_moves_changes_nothing(
        book: Portfolio, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bumper reprices the trades that refer to the bumped currency or equity; the rows
    equal those of repricing the whole book every time (1e-9 relative, 1e-6 USD absolute: the
    summation order; the rounding noise of a large trade is ~1e-9 USD)."""
    def key(r: object) -> tuple[str, ...]:
        return (r.trade_id, r.risk_type, r.qualifier, r.label1, r.label2)  # type: ignore

    fast = {key(r): r.amount_usd for r in portfolio_crif(book).records}

    def whole_book(self: Any, bumped: Any, moved: Any) -> Any:
        return price_t0(self.compiled, bumped).npv_base - self.base

    monkeypatch.setattr(sensitivities._Bumper, "change", whole_book)
    slow = {key(r): r.amount_usd for r in portfolio_crif(book).records}
    assert fast.keys() == slow.keys()
    for k, v in slow.items():
        assert fast[k] == pytest.approx(v, rel=1e-9, abs=1e-6), k  # noise: 1e-9 USD
