"""report.html: one self-contained page of a run's results, for people rather than programs.

Rendered from the published files only (results.json, the exposure table, diagnostics.json), so the
pipeline's last stage, ``xvaflow run`` and ``xvaflow report DIR`` (re-rendering any output
directory) all produce the same page. No script, stylesheet, font or image is fetched: the
charts are inline SVG (:mod:`xvaflow.report.charts`) and the page opens offline.

Sections: the run and its totals (with standard errors); the portfolio's exposure profile
(EPE, ENE, the 95-99% PFE band, expected collateral); the XVA term structure (cumulative
contributions by date); XVA by counterparty and by netting set; exposure profiles of the
netting sets with the largest CVA; the desks' tables (diagnostics.json); capital (SA-CCR, BA-CVA,
KVA); stress scenarios and sensitivities when the run computed them; the trades with the
largest allocated CVA when it allocated. Every text from the inputs (ids, names) is escaped.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from xvaflow.report.charts import PALETTE, Band, Series, bar_chart, compact, line_chart
from xvaflow.report.results import sensitivity_rows
from xvaflow.report.tables import read_columns, table_file

REPORT_FILE = "report.html"
PORTFOLIO = "PORTFOLIO"
PROFILE_CHARTS = 20  # netting sets with an exposure chart (largest CVA first)
TABLE_ROWS = 200  # rows of the per-netting-set and per-trade tables
METRICS = ("cva", "dva", "fca", "fba")
TOTALS = (("cva", "CVA"), ("dva", "DVA"), ("fca", "FCA"), ("fba", "FBA"), ("fva", "FVA"),
          ("mva", "MVA"), ("kva", "KVA"), ("colva", "COLVA"))

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid
#ccc;padding-bottom:4px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{padding:3px 10px;border-bottom:1px solid
#eee;text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f5f5f5}.muted{color:#777}.meta td{border:none;padding:1px 12px 1px 0}
svg.chart{max-width:100%;height:auto;display:block;margin:8px 0}
svg .title{font-weight:600;font-size:14px}svg .tick,svg .legend{font-size:11px;fill:#444}
svg .axis{font-size:12px;fill:#444}details{margin:6px 0}summary{cursor:pointer}
nav a{margin-right:12px}
"""


def report_html(files: Mapping[str, bytes]) -> bytes:
    """report.html from an output set (name: content; results.json required, the exposure
    table (CSV or Parquet) and diagnostics.json used when present)."""
    results = json.loads(files["results.json"])
    found = table_file(files, "exposure")
    exposure = profiles(read_columns(*found)) if found else {}
    diagnostics = (json.loads(files["diagnostics.json"]) if "diagnostics.json" in files
                   else None)
    return render_report(results, exposure, diagnostics).encode()


def profiles(columns: Mapping[str, list[Any]]) -> dict[str, dict[str, list[float]]]:
    """The exposure table's columns (:func:`xvaflow.report.tables.read_columns`) as netting
    set (or PORTFOLIO) -> numeric column -> values by date."""
    numeric = [c for c in columns if c not in ("netting_set_id", "date")]
    out: dict[str, dict[str, list[float]]] = {}
    for i, ns in enumerate(columns["netting_set_id"]):
        entry = out.setdefault(ns, {c: [] for c in numeric})
        for c in numeric:
            entry[c].append(columns[c][i])
    return out


def render_report(results: Mapping[str, Any], exposure: Mapping[str, Mapping[str, list[float]]],
                  diagnostics: Mapping[str, Any] | None) -> str:
    """The whole page (a string of HTML)."""
    ccy = escape(str(results.get("base_currency", "")))
    run = results.get("run", {})
    sections = [
        ("summary", "Summary", _summary(results, ccy)),
        ("exposure", "Portfolio exposure", _portfolio_exposure(exposure, ccy)),
        ("term", "XVA term structure", _term_structure(exposure, ccy)),
        ("counterparties", "XVA by counterparty", _by_counterparty(results, diagnostics, ccy)),
        ("netting-sets", "XVA by netting set", _by_netting_set(results, exposure, ccy)),
        ("desks", "Desks' tables", _desks(diagnostics)),
        ("capital", "Capital and KVA", _capital(results)),
    ]
    if results.get("stress"):
        sections.append(("stress", "Stress scenarios", _stress(results["stress"])))
    if results.get("sensitivities"):
        sections.append(("sensitivities", "Sensitivities", _sensitivities(results)))
    if any(t.get("cva") is not None for t in results.get("trades", {}).values()):
        sections.append(("trades", "Trade allocation", _trades(results)))
    nav = " ".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "\n".join(f'<section id="{key}"><h2>{title}</h2>\n{html}</section>'
                     for key, title, html in sections)
    title = f"xvaflow report {escape(str(run.get('run_id', '')))}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{title}</title><style>{STYLE}</style></head><body>"
            f"<h1>XVA report</h1><p class=\"muted\">as of {escape(str(results.get('as_of')))}"
            f", amounts in {ccy}; run {escape(str(run.get('run_id', '')))} "
            f"(results.json schema {escape(str(results.get('schema_version')))})</p>"
            f"<nav>{nav}</nav>\n{body}\n</body></html>\n")


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------
def _summary(results: Mapping[str, Any], ccy: str) -> str:
    run = results.get("run", {})
    meta = [("paths", run.get("paths")), ("seed", run.get("seed")), ("grid", run.get("grid")),
            ("exposure dates", run.get("exposure_dates")),
            ("partitions", run.get("partitions")), ("backend", run.get("backend")),
            ("bilateral", run.get("bilateral")), ("antithetic", run.get("antithetic")),
            ("netting sets", len(results.get("netting_sets", {}))),
            ("trades", len(results.get("trades", {})))]
    totals = results.get("totals", {})
    rows = [[name, _amount(totals.get(key)), _amount(totals.get(f"{key}_stderr"))]
            for key, name in TOTALS]
    return (_table(["setting", "value"], [[k, escape(str(v))] for k, v in meta if v is not None],
                   numeric=(), css="meta")
            + _table(["metric", f"value ({ccy})", "standard error"], rows)
            + '<p class="muted">Positive magnitudes: CVA and FCA are costs, DVA and FBA '
              "benefits, FVA = FCA - FBA, KVA a cost; COLVA is signed (added to the book's "
              "value). A dash: not computed in this run.</p>")


def _profile_chart(title: str, columns: Mapping[str, list[float]], ccy: str) -> str:
    t = columns.get("time", [])
    series = [Series("EPE", t, columns.get("epe", []), PALETTE[0]),
              Series("ENE", t, columns.get("ene", []), PALETTE[1]),
              Series("PFE 97.5%", t, columns.get("pfe_975", []), PALETTE[4], dashed=True)]
    collateral = columns.get("expected_collateral", [])
    if any(math.isfinite(c) and c != 0 for c in collateral):
        series.append(Series("expected collateral (held +)", t, collateral, PALETTE[2],
                             dashed=True))
    bands = ([Band("PFE 95%-99%", t, columns["pfe_95"], columns["pfe_99"], PALETTE[4])]
             if "pfe_95" in columns and "pfe_99" in columns else [])
    return line_chart(title, [s for s in series if len(s.ys) == len(t)], bands,
                      y_label=ccy)


def _portfolio_exposure(exposure: Mapping[str, Mapping[str, list[float]]], ccy: str) -> str:
    if PORTFOLIO not in exposure:
        return '<p class="muted">No exposure.csv in this output directory.</p>'
    return (_profile_chart("Portfolio exposure", exposure[PORTFOLIO], ccy)
            + '<p class="muted">EPE and ENE are positive magnitudes (ENE = E[max(-V, 0)]); '
              "the PFE band spans the 95% and 99% quantiles of the collateralised exposure "
              "(exposure.csv has every figure).</p>")


def term_structure(columns: Mapping[str, list[float]]) -> dict[str, list[float]]:
    """Metric -> its contributions (exposure.csv ``<metric>_contribution``) summed up to each
    date; the last value is the metric's total. Metrics not computed are left out."""
    out = {}
    for m in METRICS:
        contributions = columns.get(f"{m}_contribution")
        if contributions and any(math.isfinite(c) for c in contributions):
            out[m] = list(itertools.accumulate(c if math.isfinite(c) else 0.0
                                               for c in contributions))
    return out


def _term_structure(exposure: Mapping[str, Mapping[str, list[float]]], ccy: str) -> str:
    columns = exposure.get(PORTFOLIO)
    if not columns:
        return '<p class="muted">No exposure.csv in this output directory.</p>'
    series = [Series(m.upper(), columns["time"], cumulative, PALETTE[METRICS.index(m)])
              for m, cumulative in term_structure(columns).items()]
    if not series:
        return '<p class="muted">No XVA contributions in this run.</p>'
    return (line_chart("Cumulative XVA by horizon", series, y_label=ccy)
            + '<p class="muted">The sum of each metric\'s contributions up to each date '
              "(exposure.csv, PORTFOLIO rows); the last point is the total.</p>")


def _by_counterparty(results: Mapping[str, Any], diagnostics: Mapping[str, Any] | None,
                     ccy: str) -> str:
    names = {}
    if diagnostics:
        for row in diagnostics.get("cva_desk", {}).get("top_counterparties_by_cva", []):
            names[row["counterparty_id"]] = row.get("name") or ""
    sums: dict[str, dict[str, float]] = {}
    for ns in results.get("netting_sets", {}).values():
        entry = sums.setdefault(str(ns.get("counterparty_id")), {m: 0.0 for m in METRICS})
        entry["netting sets"] = entry.get("netting sets", 0.0) + 1
        for m in METRICS:
            entry[m] += ns.get(m) or 0.0
    ranked = sorted(sums.items(), key=lambda kv: -kv[1]["cva"])
    top = ranked[:PROFILE_CHARTS]
    chart = bar_chart(f"CVA by counterparty (largest {len(top)})",
                      [f"{cp} {names.get(cp, '')}".strip() for cp, _ in top],
                      [e["cva"] for _, e in top], PALETTE[0], value_label=ccy)
    rows = [[escape(cp), escape(names.get(cp, "")), f"{int(e['netting sets'])}",
             *(_amount(e[m]) for m in METRICS)] for cp, e in ranked[:TABLE_ROWS]]
    return chart + _table(["counterparty", "name", "netting sets", "CVA", "DVA", "FCA", "FBA"],
                          rows, numeric=(2, 3, 4, 5, 6)) + _more(len(ranked), "counterparties")


def _by_netting_set(results: Mapping[str, Any],
                    exposure: Mapping[str, Mapping[str, list[float]]], ccy: str) -> str:
    ranked = sorted(results.get("netting_sets", {}).items(),
                    key=lambda kv: -(kv[1].get("cva") or 0.0))
    rows = [[escape(ns), escape(str(e.get("counterparty_id"))), escape(str(e.get("csa_id") or "")),
             _amount(e.get("npv")), _amount(e.get("cva")), _amount(e.get("dva")),
             _amount(e.get("fca")), _amount(e.get("fba")), _amount(e.get("eepe")),
             _amount(e.get("peak_pfe_975")), _amount(e.get("kva"))]
            for ns, e in ranked[:TABLE_ROWS]]
    table = _table(["netting set", "counterparty", "CSA", "NPV", "CVA", "DVA", "FCA", "FBA",
                    "EEPE", "peak PFE 97.5%", "KVA"], rows, numeric=range(3, 11))
    charts = []
    for k, (ns, e) in enumerate(ranked[:PROFILE_CHARTS]):
        if ns in exposure:
            open_ = " open" if k == 0 else ""
            charts.append(f"<details{open_}><summary>{escape(ns)} - CVA "
                          f"{_amount(e.get('cva'))}, peak PFE {_amount(e.get('peak_pfe_975'))}"
                          f"</summary>{_profile_chart(f'{ns} exposure', exposure[ns], ccy)}"
                          "</details>")
    return (table + _more(len(ranked), "netting sets")
            + f"<h3>Exposure profiles (largest CVA first, {len(charts)} shown)</h3>"
            + "".join(charts))


def _desks(diagnostics: Mapping[str, Any] | None) -> str:
    if not diagnostics:
        return '<p class="muted">No diagnostics.json in this output directory.</p>'
    desk = diagnostics.get("cva_desk", {})
    out = ["<h3>Top counterparties by peak PFE (97.5%)</h3>"
           + _counterparty_table(desk.get("top_counterparties_by_pfe", []))]
    for key, label in (("concentration", "threshold_share"), ("materiality", "threshold")):
        section = desk.get(key, {})
        limit = section.get(label)
        shown = f"{limit:.0%}" if label == "threshold_share" and limit is not None else \
            _amount(limit)
        out.append(f"<h3>{key.capitalize()} (threshold {shown})</h3>"
                   + _counterparty_table(section.get("counterparties", [])))
    for key, rows in diagnostics.get("breakdowns", {}).items():
        out.append(f"<h3>XVA {escape(key.replace('_', ' '))}</h3>" + _table(
            ["group", "netting sets", "CVA", "DVA", "FCA", "FBA"],
            [[escape(group), str(v.get("netting_sets", "")),
              *(_amount(v.get(m)) for m in METRICS)] for group, v in rows.items()],
            numeric=(1, 2, 3, 4, 5)))
    if diagnostics.get("method"):
        out.append(f'<p class="muted">{escape(str(diagnostics["method"]))}</p>')
    return "".join(out)


def _counterparty_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    return _table(["counterparty", "name", "rating", "sector", "peak PFE", "CVA", "CVA share"],
                  [[escape(str(r.get("counterparty_id"))), escape(str(r.get("name") or "")),
                    escape(str(r.get("rating") or "")), escape(str(r.get("sector") or "")),
                    _amount(r.get("peak_pfe_975")), _amount(r.get("cva")),
                    f"{r['cva_share']:.1%}" if r.get("cva_share") is not None else "-"]
                   for r in rows], numeric=(4, 5, 6))


def _capital(results: Mapping[str, Any]) -> str:
    capital = results.get("capital") or {}
    out = []
    saccr = capital.get("saccr") or {}
    if saccr:
        ranked = sorted(saccr.items(), key=lambda kv: -(kv[1].get("ead") or 0.0))
        out.append("<h3>SA-CCR exposure at default by netting set</h3>" + _table(
            ["netting set", "margined", "RC", "multiplier", "add-on IR", "add-on FX",
             "add-on EQ", "PFE", "EAD"],
            [[escape(ns), "yes" if e.get("margined") else "no", _amount(e.get("rc")),
              f"{e['multiplier']:.3f}" if e.get("multiplier") is not None else "-",
              _amount(e.get("addon_ir")), _amount(e.get("addon_fx")), _amount(e.get("addon_eq")),
              _amount(e.get("pfe")), _amount(e.get("ead"))] for ns, e in ranked[:TABLE_ROWS]],
            numeric=range(2, 9)) + _more(len(ranked), "netting sets"))
    ba = capital.get("ba_cva") or {}
    if ba:
        out.append(f"<h3>BA-CVA</h3><p>Reduced capital {_amount(ba.get('reduced'))}"
                   f"{'' if ba.get('full') is None else '; full ' + _amount(ba.get('full'))}."
                   "</p>")
    kva = (results.get("totals") or {}).get("kva")
    out.append(f"<p>KVA (cost of the capital profile over the book's life): {_amount(kva)}.</p>")
    return "".join(out)


def _stress(stress: Mapping[str, Any]) -> str:
    rows = [[escape(scenario), escape(metric.upper()), _amount(f.get("base")),
             _amount(f.get("stressed")), _amount(f.get("change")),
             _amount(f.get("change_stderr"))]
            for scenario, metrics in stress.get("scenarios", {}).items()
            for metric, f in metrics.items()]
    return _table(["scenario", "metric", "base", "stressed", "change", "s.e. of change"], rows,
                  numeric=(2, 3, 4, 5)) + '<p class="muted">Per netting set in stress.csv.</p>'


def _sensitivities(results: Mapping[str, Any]) -> str:
    rows = [r for r in sensitivity_rows(results["sensitivities"]) if r["netting_set_id"] is None]
    rows.sort(key=lambda r: -abs(r["value"] or 0.0))
    return _table(["metric", "kind", "key", "value", "s.e."],
                  [[escape(r["metric"].upper()), escape(r["kind"]), escape(r["key"]),
                    _amount(r["value"], 2), _amount(r["stderr"], 2)] for r in rows[:TABLE_ROWS]],
                  numeric=(3, 4)) + _more(len(rows), "portfolio sensitivities") + \
        '<p class="muted">Portfolio figures, largest first; per netting set in results.json ' \
        "(units in docs/outputs.md).</p>"


def _trades(results: Mapping[str, Any]) -> str:
    ranked = sorted(results.get("trades", {}).items(), key=lambda kv: -(kv[1].get("cva") or 0))
    return _table(["trade", "netting set", "product", "NPV (base)", "CVA", "DVA", "FCA", "FBA"],
                  [[escape(tid), escape(str(t.get("netting_set_id"))),
                    escape(str(t.get("product"))), _amount(t.get("npv_base")),
                    *(_amount(t.get(m)) for m in METRICS)] for tid, t in ranked[:TABLE_ROWS]],
                  numeric=range(3, 8)) + _more(len(ranked), "trades (trades.csv has all)")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Iterable[Sequence[str]],
           numeric: Iterable[int] = (1, 2), css: str = "") -> str:
    """An HTML table; cells are already escaped; ``numeric`` columns align right."""
    right = set(numeric)
    head = "".join(f'<th{" class=n" if i in right else ""}>{h}</th>'
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in right else ""}>{c}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _amount(value: Any, decimals: int = 0) -> str:
    """An amount with thousands separators; ``-`` when null or not finite."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    text = f"{value:,.{decimals}f}"
    return text if abs(value) < 1e15 else compact(value)


def _more(total: int, what: str) -> str:
    return (f'<p class="muted">{TABLE_ROWS} of {total} {what} shown.</p>' if total > TABLE_ROWS
            else "")
