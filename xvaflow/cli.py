"""Command line: ``xvaflow price | capital | validate | generate | run | submit | status``
(README "What it does", docs/inputs.md and docs/outputs.md; submit and status drive a deployed
stack, see README "Deploy to AWS").

Exit status: 0 success; 2 bad input or usage (one line per problem on stderr, no traceback);
1 internal error.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xvaflow import __version__
from xvaflow.core.errors import InputError, PipelineError, Problem, XvaflowError

if TYPE_CHECKING:  # the commands import lazily: `xvaflow --help` stays fast
    from xvaflow.portfolio import Portfolio

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """A command's parser: no abbreviated options (``--pat`` is an error, never ``--paths``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xvaflow", description="XVA pipeline for derivatives "
                                "portfolios. Inputs: docs/inputs.md; outputs: docs/outputs.md; "
                                "a walk-through: docs/tutorial.md (in the repository).",
                                allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)

    price = sub.add_parser("price", help="t0 NPV of every trade")
    price.add_argument("portfolio", type=Path)
    price.add_argument("--out", type=Path, help="directory for results.json")

    capital = sub.add_parser("capital", help="t0 regulatory capital: SA-CCR per netting set, "
                             "BA-CVA (no simulation)")
    capital.add_argument("portfolio", type=Path)
    capital.add_argument("--out", type=Path, required=True, help="directory for results.json")

    whatif = sub.add_parser("whatif", help="pre-deal: incremental XVA of new trades on their "
                            "netting sets (common random numbers)")
    whatif.add_argument("portfolio", type=Path)
    whatif.add_argument("--trades", type=Path, required=True,
                        help="the new trades, trades.csv columns (CSV or .parquet)")
    whatif.add_argument("--out", type=Path, required=True, help="directory for results.json")
    _add_settings(whatif)

    margin = sub.add_parser("margin", help="initial margin: ISDA SIMM per netting set from the "
                            "trades' t0 sensitivities (crif.csv), or of a CRIF you give")
    margin.add_argument("portfolio", type=Path)
    margin.add_argument("--out", type=Path, required=True,
                        help="directory for results.json and crif.csv")
    margin.add_argument("--crif", type=Path, help="SIMM of this CRIF file (per PortfolioID) "
                        "instead of the portfolio's own sensitivities")
    margin.add_argument("--mpor-days", dest="mpor_days", type=int, choices=(10, 1), default=10,
                        help="SIMM calibration: 10-day (standard, default) or 1-day")

    run = sub.add_parser("run", help="the whole workflow locally: exposures and XVA")
    run.add_argument("portfolio", type=Path)
    run.add_argument("--out", type=Path, required=True, help="directory for the outputs")
    _add_settings(run)
    run.add_argument("--workers", type=int, help="worker processes (default: CPU count)")
    run.add_argument("--run-id", dest="run_id",
                     help="run id (default: local-<UTC time>-<random>)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress on stderr (warnings and errors are still printed)")

    submit = sub.add_parser("submit", help="run the workflow on a deployed stack (AWS)")
    submit.add_argument("portfolio", type=Path)
    _add_stack(submit)
    _add_settings(submit)
    submit.add_argument("--run-id", dest="run_id",
                        help="run id, used once per stack (default: run-<UTC time>-<random>)")
    submit.add_argument("--max-concurrency", dest="max_concurrency", type=int, default=0,
                        help="partitions computed at once (default 0: all)")
    submit.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                        help="follow the run and download its outputs (default: yes)")
    submit.add_argument("--out", type=Path, help="directory for the outputs (default out/<run>)")

    status = sub.add_parser("status", help="status of a run on a deployed stack (AWS)")
    status.add_argument("run_id", metavar="RUN")
    _add_stack(status)
    status.add_argument("--wait", action="store_true", help="follow the run until it ends")
    status.add_argument("--out", type=Path, help="download the outputs here if it succeeded")

    report = sub.add_parser("report", help="render report.html again from the outputs of a run "
                            "in DIR")
    report.add_argument("out", type=Path, metavar="DIR")

    validate = sub.add_parser("validate", help="check inputs, print every problem")
    validate.add_argument("portfolio", type=Path)

    gen = sub.add_parser("generate", help="write a synthetic bank portfolio")
    gen.add_argument("--counterparties", type=int, required=True)
    gen.add_argument("--trades", type=int, required=True)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--as-of", dest="as_of", default="2026-11-20", help="valuation date")
    gen.add_argument("--out", type=Path, required=True)
    return p


def _add_settings(p: argparse.ArgumentParser) -> None:
    """Run settings overriding run.json."""
    p.add_argument("--paths", type=int, help="Monte Carlo paths (run.json: paths)")
    p.add_argument("--seed", type=int, help="random seed (run.json: seed)")
    p.add_argument("--grid", help="exposure grid: 'auto' (default: monthly for a year, then "
                   "quarterly to the last cash flow), '1M:10Y' or segments '1M:2Y,3M:10Y,1Y:50Y' "
                   "(run.json: grid)")
    p.add_argument("--partitions", type=int, help="netting-set partitions")
    p.add_argument("--path-chunk", dest="path_chunk", type=int,
                   help="simulate paths in chunks of this size to bound memory")
    p.add_argument("--backend", choices=("numpy", "cupy"), help="array backend")
    p.add_argument("--antithetic", action=argparse.BooleanOptionalAction, default=None,
                   help="antithetic variates")
    p.add_argument("--stress", action=argparse.BooleanOptionalAction, default=None,
                   help="stress scenarios on the same paths: credit spreads +-100bp, funding "
                   "+-50bp, collateral coverage 0/50/100/120%% (stress.csv; run.json: stress)")
    p.add_argument("--sensitivities", nargs="?", const="credit,ir,fx,eq,vega", metavar="KINDS",
                   help="XVA sensitivities on the same random numbers: credit (CS01 per CDS "
                   "tenor), ir (delta per curve pillar, gamma), fx, eq (spot deltas), vega "
                   "(Hull-White sigma, FX and equity vols: one more simulation each); all "
                   "without KINDS, else a comma list (run.json: sensitivities, true or a list)")
    p.add_argument("--allocation", action=argparse.BooleanOptionalAction, default=None,
                   help="each trade's share of its netting set's CVA, DVA, FCA and FBA "
                   "(trades.csv; costs a valuation of every trade on its own; run.json: "
                   "allocation)")
    # the formats of xvaflow.portfolio.OUTPUT_FORMATS, written out: `--help` imports nothing
    p.add_argument("--format", choices=("csv", "parquet"),
                   help="run's tables exposure, trades, stress: csv (default) or parquet (the "
                   "parquet extra; run.json: format)")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--bilateral", dest="bilateral", action="store_const", const=True,
                      default=None, help="first-to-default CVA/DVA: each weighted by the other "
                      "party's survival (the default; run.json: bilateral)")
    side.add_argument("--unilateral", dest="bilateral", action="store_const", const=False,
                      help="CVA and DVA each ignoring the other party's default (ORE's default)")


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    return {k: getattr(args, k) for k in ("paths", "seed", "grid", "partitions", "backend",
                                          "antithetic", "path_chunk", "bilateral", "stress",
                                          "sensitivities", "allocation", "format")
            if getattr(args, k) is not None}


def _add_stack(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="CloudFormation stack of the pipeline")
    p.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    p.add_argument("--poll", type=float, default=15.0, help="seconds between status checks")


def _print_warnings(warnings: Sequence[object]) -> None:
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    """Every check ``xvaflow run`` makes on this machine before it starts (the same code:
    :func:`~xvaflow.pipeline.local.check_inputs`), run.json's grid, backend and memory
    included; nothing is computed."""
    from xvaflow.core.errors import ProblemLog
    from xvaflow.margin.ccp import load_ccp_histories
    from xvaflow.pipeline.local import check_portfolio

    pf, warnings = check_portfolio(args.portfolio, {}, here=True)
    log = ProblemLog()
    load_ccp_histories(pf, log)  # `xvaflow margin` reads history/ for cleared swaps
    if log:
        raise InputError(log.problems, [*warnings, *log.warnings])
    _print_warnings(warnings)
    c = pf.compiled
    print(f"{args.portfolio}: OK - {c.n_trades} trades, {len(pf.netting_sets)} netting sets, "
          f"{len(pf.counterparties)} counterparties, {len(pf.csas)} CSAs, as of "
          f"{pf.market.as_of}, {len(warnings)} warnings")
    return EXIT_OK


def cmd_price(args: argparse.Namespace) -> int:
    from xvaflow.io.portfolio import load_portfolio
    from xvaflow.pricing.t0 import price_t0
    from xvaflow.report.results import trades_section

    _check_out_dir(args.out)
    started = time.perf_counter()
    pf = load_portfolio(args.portfolio)
    _print_warnings(pf.warnings)
    values = price_t0(pf.compiled, pf.market)
    _check_finite(pf, values.npv_base)
    trades = trades_section(pf.compiled, values)
    c = pf.compiled
    width = max(len(t) for t in c.trade_ids) if c.trade_ids else 8
    print(f"{'trade':<{width}}  {'product':<8}  {'ccy':<3}  {'npv':>18}  "
          f"{'npv_' + pf.market.base_currency:>18}")
    for i, tid in enumerate(c.trade_ids):
        row = trades[tid]
        print(f"{tid:<{width}}  {c.products[i]:<8}  {row['currency']:<3}  {row['npv']:>18,.2f}  "
              f"{row['npv_base']:>18,.2f}")
    total = float(values.npv_base.sum())
    print(f"{'total':<{width}}  {'':<8}  {pf.market.base_currency:<3}  {'':>18}  {total:>18,.2f}")
    if args.out is not None:
        _publish_results(args.out, "price", pf, started, {"trades": trades})
    return EXIT_OK


def _check_finite(pf: Portfolio, npv_base: Any) -> None:
    """Refuse to report a price that is not a number: the inputs passed every check, so this
    is an internal error (exit status 1), named by trade, never a traceback or a NaN."""
    import numpy as np

    bad = np.flatnonzero(~np.isfinite(np.asarray(npv_base, dtype=float)))
    if bad.size:
        ids = ", ".join(pf.compiled.trade_ids[int(i)] for i in bad[:5])
        raise PipelineError(f"{bad.size} trade(s) priced to a value that is not a finite "
                            f"number ({ids}{' ...' if bad.size > 5 else ''}); nothing was "
                            "published (an internal error: please report it with the inputs)")


def _publish_results(out: Path, command: str, pf: Portfolio, started: float,
                     sections: dict[str, Any], files: dict[str, bytes] | None = None) -> None:
    """Publish a t0 command's results.json (header, ``run`` and ``sections``), with ``files``
    beside it, to ``out``."""
    from xvaflow.pipeline.publish import new_run_id, output_lock, publish_or_refuse
    from xvaflow.report.results import SCHEMA_VERSION, json_bytes

    run_id = new_run_id(command)
    document = json_bytes({
        "schema_version": SCHEMA_VERSION,
        "as_of": pf.market.as_of.isoformat(),
        "base_currency": pf.market.base_currency,
        "run": {"command": command, "run_id": run_id,
                "wall_seconds": round(time.perf_counter() - started, 3)},
        **sections,
    })
    with output_lock(out):
        publish_or_refuse(out, run_id, {"results.json": document, **(files or {})})
    print(f"wrote {', '.join(str(out / f) for f in ('results.json', *(files or {})))}",
          file=sys.stderr)


def cmd_margin(args: argparse.Namespace) -> int:
    """ISDA SIMM per netting set (results.json ``initial_margin``) and the CRIF it came from."""
    from xvaflow.core.errors import ProblemLog
    from xvaflow.io.portfolio import load_portfolio
    from xvaflow.margin.crif import crif_csv, load_crif
    from xvaflow.margin.sensitivities import margin_section, portfolio_crif, usd_problem

    _check_out_dir(args.out)
    started = time.perf_counter()
    pf = load_portfolio(args.portfolio)
    _print_warnings(pf.warnings)
    market = pf.market
    if (problem := usd_problem(market)) is not None:
        raise InputError([problem])
    usd = market.fx_rate(market.base_currency, "USD")
    files: dict[str, bytes] = {}
    if args.crif is not None:
        log = ProblemLog()
        rates = {c: market.fx_rate(c, "USD") for c in market.fx_to_base}
        records = tuple(load_crif(args.crif, log, fx_to_usd=rates))
        log.raise_if_any()
        _print_warnings(log.warnings)
        source = args.crif.name
    else:
        generated = portfolio_crif(pf)
        _print_warnings(generated.warnings)
        records, source = generated.records, "portfolio"
        files["crif.csv"] = crif_csv(records).encode()
    section = margin_section(records, usd, source, mpor_days=args.mpor_days)
    section["ccp"] = _ccp(pf)
    ccy = market.base_currency
    print(f"{section['model']} ({args.mpor_days}-day) as of {market.as_of} in {ccy}")
    print(f"{'netting set':<16} {'received':>15} {'posted':>15}")
    for ns, r in section["netting_sets"].items():
        print(f"{ns:<16} {r['received']:>15,.0f} {r['posted']:>15,.0f}")
    if section["ccp"] is not None:
        ccp = section["ccp"]
        print(f"CCP historical VaR ({ccp['scenarios']} scenarios {ccp['first_date']} to "
              f"{ccp['last_date']}, lambda {ccp['lambda']}) in {ccy}")
        print(f"{'netting set':<16} {'received':>15} {'posted':>15} {'mtm':>15}")
        for ns, r in ccp["netting_sets"].items():
            print(f"{ns:<16} {r['received']:>15,.0f} {r['posted']:>15,.0f} {r['mtm']:>15,.0f}")
    _publish_results(args.out, "margin", pf, started, {"initial_margin": section}, files)
    return EXIT_OK


def _ccp(pf: Portfolio) -> dict[str, Any] | None:
    """``initial_margin.ccp`` of the netting sets under ccp_hvar CSAs (None without any)."""
    from xvaflow.core.errors import ProblemLog
    from xvaflow.margin.ccp import ccp_section, cleared_netting_sets, load_ccp_histories
    from xvaflow.pricing.t0 import price_t0

    cleared = cleared_netting_sets(pf)
    if not cleared:
        return None
    log = ProblemLog()
    histories = load_ccp_histories(pf, log)
    log.raise_if_any()
    return ccp_section(pf, cleared, histories, price_t0(pf.compiled, pf.market).npv_base)


def cmd_capital(args: argparse.Namespace) -> int:
    """SA-CCR EAD per netting set and BA-CVA at t0 (results.json ``capital``), published to
    ``--out`` like ``price``."""
    from xvaflow.io.portfolio import load_portfolio
    from xvaflow.pricing.t0 import price_t0
    from xvaflow.regulatory.capital import capital_section

    _check_out_dir(args.out)
    started = time.perf_counter()
    pf = load_portfolio(args.portfolio)
    _print_warnings(pf.warnings)
    capital = capital_section(pf, price_t0(pf.compiled, pf.market).npv_base)
    ccy = pf.market.base_currency
    print(f"SA-CCR and BA-CVA as of {pf.market.as_of} in {ccy}")
    print(f"{'netting set':<16} {'margined':>8} {'v':>15} {'rc':>15} {'addon':>15} "
          f"{'multiplier':>10} {'ead':>15}")
    for ns, r in capital["saccr"].items():
        print(f"{ns:<16} {'yes' if r['margined'] else 'no':>8} {r['v']:>15,.0f} "
              f"{r['rc']:>15,.0f} {r['addon']:>15,.0f} {r['multiplier']:>10.4f} "
              f"{r['ead']:>15,.0f}")
    ba = capital["ba_cva"]
    full = "n/a (no cva_hedges.csv)" if ba["full"] is None else f"{ba['full']:,.0f}"
    print(f"BA-CVA reduced {ba['reduced']:,.0f}, full {full}")
    _publish_results(args.out, "capital", pf, started, {"capital": capital})
    return EXIT_OK


def cmd_whatif(args: argparse.Namespace) -> int:
    """Incremental XVA (and SA-CCR EAD) of new trades on the netting sets they join, on the
    same paths as the book (results.json ``whatif``, published to ``--out``)."""
    from xvaflow.io.portfolio import load_portfolio, with_new_trades
    from xvaflow.pipeline.stages import settings_for
    from xvaflow.xva.whatif import incremental_xva

    _check_out_dir(args.out)
    started = time.perf_counter()
    book = load_portfolio(args.portfolio)
    combined = with_new_trades(book, args.trades)
    _print_warnings(combined.warnings)
    settings = settings_for(combined, _overrides(args), "command line")
    section = incremental_xva(book, combined, settings)
    print(f"incremental XVA as of {book.market.as_of} in {book.market.base_currency} "
          f"({settings.paths} paths, same paths as the book; increment +- standard error)")
    metrics = [m for m in ("cva", "dva", "fca", "fba", "fva") if m in section["totals"]]
    print(f"{'netting set':<16} " + " ".join(f"{m:>26}" for m in metrics) + f" {'ead':>15}")
    for ns, entry in [*section["netting_sets"].items(), ("total", section["totals"])]:
        cells = [f"{entry[m]['increment']:>14,.0f} +- {entry[m]['increment_stderr']:>8,.0f}"
                 for m in metrics]
        ead = f"{entry['ead']['increment']:>15,.0f}" if "ead" in entry else ""
        print(f"{ns:<16} " + " ".join(f"{c:>26}" for c in cells) + f" {ead}")
    _publish_results(args.out, "whatif", book, started, {"whatif": section})
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from xvaflow.core.dates import parse_date
    from xvaflow.io.generate import generate_portfolio
    from xvaflow.io.limits import AS_OF_RANGE, SEED_MAX

    if args.counterparties < 1 or args.trades < 1:
        raise InputError([_usage("--counterparties and --trades must be at least 1")])
    if not 0 <= args.seed <= SEED_MAX:
        raise InputError([_usage(f"--seed must be from 0 to {SEED_MAX} (2**64 - 1)")])
    try:
        as_of = parse_date(args.as_of)
    except ValueError as exc:
        raise InputError([_usage(f"--as-of: {exc}")]) from None
    if not AS_OF_RANGE[0] <= as_of <= AS_OF_RANGE[1]:
        raise InputError([_usage(f"--as-of: {as_of} is outside {AS_OF_RANGE[0]} to "
                                 f"{AS_OF_RANGE[1]}")])
    _check_out_dir(args.out)
    started = time.perf_counter()
    try:
        summary = generate_portfolio(args.out, counterparties=args.counterparties,
                                     trades=args.trades, seed=args.seed, as_of=as_of)
    except OSError as exc:
        raise InputError([_usage(f"--out {args.out}: cannot write the portfolio there: "
                                 f"{exc.strerror or exc}")]) from None
    print(f"wrote {args.out}: {summary} in {time.perf_counter() - started:.1f}s")
    return EXIT_OK


def _warnings_only(line: str) -> None:
    if line.startswith("warning: "):
        print(line, file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from xvaflow.pipeline.local import run_pipeline
    from xvaflow.pipeline.progress import TerminalBar
    from xvaflow.pipeline.publish import run_output_files

    _check_out_dir(args.out)
    if args.workers is not None and args.workers < 1:
        raise InputError([_usage("--workers must be at least 1")])
    bar = TerminalBar(sys.stderr) if sys.stderr.isatty() and not args.quiet else None
    log = (bar.log if bar is not None else _warnings_only if args.quiet else
           functools.partial(print, file=sys.stderr))
    summary = run_pipeline(args.portfolio, args.out, _overrides(args), workers=args.workers,
                           run_id=_check_run_id(args.run_id) if args.run_id else None,
                           log=log, progress=bar)
    _print_xva(summary.document)
    files = run_output_files(summary.document)
    print(f"wrote {', '.join(str(summary.out / f) for f in files[:-1])} and "
          f"{summary.out / files[-1]}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Render DIR/report.html from DIR's published outputs and publish the set again, so the
    page and the files it shows stay one unit."""
    from xvaflow.pipeline.publish import CURRENT, output_lock, publish_or_refuse
    from xvaflow.report.html import REPORT_FILE, report_html
    from xvaflow.report.tables import FORMATS

    out: Path = args.out
    if not (out / "results.json").is_file() or not any(
            (out / f"exposure.{fmt}").is_file() for fmt in FORMATS):
        raise InputError([_usage(f"{out}: no results.json and exposure table there; "
                                 "report.html is rendered from the outputs of `xvaflow run` or "
                                 "`xvaflow submit`")])
    with output_lock(out):
        source = out / CURRENT if (out / CURRENT).is_dir() else out
        files = {f.name: f.read_bytes() for f in sorted(source.iterdir())
                 if f.is_file() and not f.name.startswith(".") and f.name != REPORT_FILE}
        try:
            run_id = str(json.loads(files["results.json"])["run"]["run_id"])
            files[REPORT_FILE] = report_html(files)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError([_usage(f"{out}: its outputs cannot be read as an xvaflow run's "
                                     f"({type(exc).__name__}: {exc})")]) from None
        publish_or_refuse(out, run_id, files)
    print(f"wrote {out / REPORT_FILE}")
    return EXIT_OK


def _check_run_id(run_id: str) -> str:
    from xvaflow.pipeline.stages import run_prefix

    try:
        run_prefix(run_id)
    except PipelineError as exc:
        raise InputError([_usage(f"--run-id: {exc}")]) from None
    return run_id


def _check_out_dir(out: Path | None) -> None:
    if out is not None and out.exists() and not out.is_dir():
        raise InputError([_usage(f"--out {out}: exists and is not a directory")])


def _print_xva(doc: dict[str, Any]) -> None:
    """The netting sets' XVA table of a results.json document."""
    ccy = doc["base_currency"]
    print(f"XVA as of {doc['as_of']} in {ccy} ({doc['run']['paths']} paths, "
          f"{doc['run']['exposure_dates']} exposure dates, {doc['run']['wall_seconds']:.1f}s)")
    print(f"{'netting set':<16} {'npv':>15} {'cva':>12} {'dva':>12} {'fca':>12} {'fba':>12} "
          f"{'eepe':>14} {'pfe97.5 peak':>14}")

    def cell(v: float | None, width: int) -> str:
        return f"{'n/a':>{width}}" if v is None else f"{v:>{width},.0f}"

    for ns, r in doc["netting_sets"].items():
        print(f"{ns:<16} {cell(r['npv'], 15)} {cell(r['cva'], 12)} {cell(r['dva'], 12)} "
              f"{cell(r['fca'], 12)} {cell(r['fba'], 12)} {cell(r['eepe'], 14)} "
              f"{cell(r['peak_pfe_975'], 14)}")
    t = doc["totals"]
    print(f"{'total':<16} {'':>15} {cell(t['cva'], 12)} {cell(t['dva'], 12)} "
          f"{cell(t['fca'], 12)} {cell(t['fba'], 12)}")


def _aws(region: str | None) -> tuple[Any, Any, Any]:
    """CloudFormation, Step Functions and S3 clients (the [aws] extra); a missing region or
    credentials is one line saying what to set (exit status 2)."""
    from xvaflow.pipeline.remote import aws_clients

    return aws_clients(region)


def _follow(args: argparse.Namespace, sfn: Any, s3: Any, deployment: Any, run_id: str,
            out: Path | None, wait: bool) -> int:
    """Show (or follow) a run; download and print its results when it succeeded."""
    from xvaflow.pipeline.remote import download_outputs, run_status, wait_for_run

    if wait:
        status = wait_for_run(sfn, s3, deployment, run_id, args.poll,
                              functools.partial(print, file=sys.stderr))
    else:
        status = run_status(sfn, s3, deployment, run_id)
        print(status.line())
    if status.status == "SUCCEEDED" and out is not None:
        paths = download_outputs(s3, deployment, run_id, out)
        _print_xva(json.loads((out / "results.json").read_text()))
        print(f"wrote {', '.join(map(str, paths[:-1]))} and {paths[-1]}")
    if status.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        raise PipelineError(f"run {run_id} {status.status.lower()}: {status.error}: "
                            f"{status.cause}")
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    from xvaflow.pipeline.remote import aws_errors

    with aws_errors():  # botocore's configuration errors: one line, exit status 2
        return _submit(args)


def _submit(args: argparse.Namespace) -> int:
    from xvaflow.pipeline.local import check_inputs
    from xvaflow.pipeline.publish import new_run_id
    from xvaflow.pipeline.remote import (
        check_run_id_unused,
        find_deployment,
        start_run,
        upload_inputs,
    )

    _check_out_dir(args.out)
    run_id = _check_run_id(args.run_id) if args.run_id else new_run_id()
    if args.max_concurrency < 0:
        raise InputError([_usage("--max-concurrency must be 0 (all) or more")])
    overrides = _overrides(args)
    _print_warnings(check_inputs(args.portfolio, overrides))
    cloudformation, sfn, s3 = _aws(args.region)
    deployment = find_deployment(cloudformation, args.stack)
    check_run_id_unused(sfn, deployment, run_id)
    prefix = upload_inputs(s3, deployment, args.portfolio, run_id)
    arn = start_run(sfn, deployment, run_id, prefix, overrides, args.max_concurrency)
    print(f"run {run_id} started on {args.stack}: inputs s3://{deployment.bucket}/{prefix}, "
          f"execution {arn}", file=sys.stderr)
    out = args.out or Path("out") / run_id
    code = _follow(args, sfn, s3, deployment, run_id, out, args.wait)
    if not args.wait:
        print(f"follow it with: xvaflow status {run_id} --stack {args.stack} --wait --out {out}")
    return code


def cmd_status(args: argparse.Namespace) -> int:
    from xvaflow.pipeline.remote import aws_errors

    with aws_errors():  # botocore's configuration errors: one line, exit status 2
        return _status(args)


def _status(args: argparse.Namespace) -> int:
    from xvaflow.pipeline.remote import find_deployment

    _check_out_dir(args.out)
    run_id = _check_run_id(args.run_id)
    cloudformation, sfn, s3 = _aws(args.region)
    deployment = find_deployment(cloudformation, args.stack)
    return _follow(args, sfn, s3, deployment, run_id, args.out, args.wait)


def _usage(message: str) -> Problem:
    return Problem("command line", None, None, message)


COMMANDS = {"price": cmd_price, "capital": cmd_capital, "whatif": cmd_whatif,
            "run": cmd_run, "margin": cmd_margin, "report": cmd_report, "validate": cmd_validate,
            "generate": cmd_generate, "submit": cmd_submit, "status": cmd_status}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xvaflow`` console script."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        _print_warnings(exc.warnings)
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was computed.", file=sys.stderr)
        return EXIT_INPUT
    except PipelineError as exc:  # the workflow failed: not the user's input
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except XvaflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
