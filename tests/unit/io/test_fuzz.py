"""A table-driven fuzzer of the inputs (issue 9): single mutations of examples/demo.

Every column of every CSV file (on the first row that fills it) and every key of market.json
and run.json is set to hostile values: numbers near float64's limits, NaN and infinities,
negative and absurd magnitudes, dates of year 0, 1900 and 9999, control and bidirectional
characters, wrong JSON types, deep nesting; keys are deleted; whole files are emptied or
replaced by a FIFO or /dev/zero. Each mutated portfolio must either

- be refused: every problem a well-formed line naming its file and, inside the file, the row
  or the JSON key and the field; at least one naming the mutated file (or the run settings);
  no exception other than InputError; or
- be accepted by the checks ``xvaflow validate`` makes (the same code path as ``run``) and
  price to finite values.

The fast tier (seconds) samples the values per column deterministically so that every column
and key meets every kind of hostility at least once across the table; the ``slow`` tier runs
every value of every column through the command line (``validate`` + ``price``, exit status
and stderr checked) and a small ``run`` (--paths 64 --grid 3M:1Y) on a sample of the accepted
ones, checking that results.json and exposure.csv hold finite numbers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import signal
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xvaflow.cli import main
from xvaflow.core.errors import InputError, Problem
from xvaflow.pipeline.local import check_portfolio
from xvaflow.pricing.t0 import price_t0

from .conftest import DEMO

FILES = ("trades.csv", "netting_sets.csv", "counterparties.csv", "csas.csv", "market.json",
         "run.json", "cva_hedges.csv")
SETTINGS_SOURCES = ("run settings", "command line")

NUMBERS = ("1e308", "-1e308", "1.7976931348623157e308", "nan", "inf", "-0.5", "1e26", "0",
           "1e-300", "12abc", "")
DATES = ("0000-01-01", "9999-12-31", "1900-01-01", "2026-02-30", "20261120", "")
TEXTS = ("", "\x00", "A\u202eB", "x\x1b[31m", "x" * 5000, "PORTFOLIO", "caf\u00e9", " ")
JSON_VALUES: tuple[Any, ...] = (1e308, -1e308, 1e-300, -0.5, 0, 2**64, "x", None, [], {},
                                True, "\u202e", "1900-01-01", "9999-12-31")
DEEP = "[" * 5000 + "]" * 5000


@dataclass(frozen=True)
class Mutation:
    """One change to the demo: ``apply(dir)``; ``file`` is the file it touches."""

    name: str
    file: str
    apply: Callable[[Path], None]
    row: int | None = None  # the spreadsheet row a CSV cell mutation touches
    special: bool = False  # one of the issue's classes: always in the fast tier

    def __repr__(self) -> str:  # shown by pytest for a failing case
        return self.name


# --- the table ------------------------------------------------------------------------------
def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _kind(column: str, sample: str) -> tuple[str, ...]:
    if column.endswith("_date"):
        return DATES
    if column.endswith("_id"):
        return TEXTS
    try:
        float(sample)
    except ValueError:
        return TEXTS
    return NUMBERS


def _cell(file: str, row: int, col: int, value: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        rows = _rows(root / file)
        rows[row - 1][col] = value
        _write_rows(root / file, rows)

    return apply


def _csv_mutations() -> Iterator[Mutation]:
    for file in ("trades.csv", "netting_sets.csv", "counterparties.csv", "csas.csv"):
        rows = _rows(DEMO / file)
        header = rows[0]
        for col, column in enumerate(header):
            row = next((i + 1 for i, r in enumerate(rows) if i and r[col].strip()), 2)
            for value in _kind(column, rows[row - 1][col]):
                yield Mutation(f"{file}:{row}:{column}={value[:20]!r}", file,
                               _cell(file, row, col, value), row)
            yield Mutation(f"{file}:header:{column}+NUL", file,
                           _cell(file, 1, col, column + "\x00"), 1)


def _json_leaves(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _json_leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _json_leaves(v, (*path, i))
    if path:
        yield path


def _json_set(file: str, path: tuple[Any, ...], value: Any, delete: bool = False,
              raw: str | None = None) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        doc = json.loads((root / file).read_text(encoding="utf-8"))
        node = doc
        for part in path[:-1]:
            node = node[part]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = "__RAW__" if raw is not None else value
        text = json.dumps(doc)
        (root / file).write_text(text.replace('"__RAW__"', raw) if raw else text,
                                 encoding="utf-8")

    return apply


def _json_mutations() -> Iterator[Mutation]:
    for file in ("market.json", "run.json"):
        doc = json.loads((DEMO / file).read_text(encoding="utf-8"))
        for path in _json_leaves(doc):
            key = ".".join(map(str, path))
            for value in JSON_VALUES:
                yield Mutation(f"{file}:{key}={value!r}"[:80], file,
                               _json_set(file, path, value))
            yield Mutation(f"{file}:{key} deleted", file, _json_set(file, path, None, True))
            yield Mutation(f"{file}:{key} nested 5000 deep", file,
                           _json_set(file, path, None, raw=DEEP))
    for key, value in (("seed", 2**64), ("seed", -1), ("paths", 10**12), ("paths", 1e12),
                       ("path_chunk", 1), ("partitions", 10**12), ("grid", "1M:10"),
                       ("grid", "1D:9999Y"), ("grid", ["9999-12-31"]), ("grid", [1e308]),
                       ("grid", []), ("backend", "cupy"), ("antithetic", "yes")):
        yield Mutation(f"run.json:{key}={value!r}", "run.json",
                       _json_set("run.json", (key,), value), special=True)


def _whole_file(file: str, how: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / file
        if how == "empty":
            path.write_bytes(b"")
        elif how == "header only":
            path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n")
        elif how == "fifo":
            path.unlink()
            os.mkfifo(path)
        elif how in ("/dev/zero", "/dev/urandom"):
            path.unlink()
            path.symlink_to(how)
        elif how == "binary":
            path.write_bytes(b"\xff\xfe\x00garbage")
        elif how == "missing":
            path.unlink()

    return apply


def _file_mutations() -> Iterator[Mutation]:
    for file in ("trades.csv", "netting_sets.csv", "counterparties.csv", "csas.csv",
                 "market.json", "run.json"):
        hows = ["empty", "fifo", "/dev/zero", "/dev/urandom", "binary", "missing"]
        if file.endswith(".csv"):
            hows.append("header only")
        for how in hows:
            yield Mutation(f"{file} {how}", file, _whole_file(file, how))

    def drop_csa_column(root: Path) -> None:
        rows = _rows(root / "netting_sets.csv")
        _write_rows(root / "netting_sets.csv", [r[:2] for r in rows])

    yield Mutation("netting_sets.csv without csa_id", "netting_sets.csv", drop_csa_column)


MUTATIONS = (*_csv_mutations(), *_json_mutations(), *_file_mutations())


_TENOR = re.compile(r"\A\d+[DWMY]\Z")


def _family(key: str) -> str:
    """A market.json key with list indices and tenors generalised: ``curves.USD.par_quotes.3.
    rate`` and ``...par_quotes.0.rate`` are one family (the same validation code)."""
    return ".".join("#" if part.isdigit() or _TENOR.match(part) else part
                    for part in key.split("."))


def _fast_sample() -> list[Mutation]:
    """Every whole-file mutation, the run.json settings of the issue's classes and the header
    of every CSV column; one value for each CSV column, each run.json key and each family of
    market.json keys (the first key of the family),
    rotating through the value lists so that every value meets several columns and keys; the
    deletion of market.json's top-level keys and the deep nesting of its top two levels."""
    groups: dict[str, list[Mutation]] = {}
    for m in MUTATIONS:
        groups.setdefault(m.name.split("=")[0], []).append(m)
    out: list[Mutation] = []
    families: set[str] = set()
    for g, (base, members) in enumerate(groups.items()):
        out.extend(m for m in members if m.special)
        members = [m for m in members if not m.special]
        if not members:
            continue
        if " " in base and "=" not in members[0].name:
            depth = base.split(":")[1].count(".") if base.startswith("market.json:") else 0
            if depth > 1 or (depth == 1 and base.endswith(" deleted")):
                continue  # deleting a market.json key below the top level: slow tier
            out.extend(members)
        elif base.startswith("market.json:"):
            family = _family(base.split(":", 1)[1])
            if family not in families:
                families.add(family)
                out.append(members[g % len(members)])
        else:
            out.append(members[g % len(members)])
    return out


# --- the checks -----------------------------------------------------------------------------
@pytest.fixture
def deadline() -> Iterator[None]:
    """A mutation that blocks (a FIFO, /dev/zero) fails the test instead of hanging it."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError("the checks blocked for 20s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _mutated(m: Mutation, tmp_path: Path) -> Path:
    root = tmp_path / "portfolio"
    shutil.copytree(DEMO, root)
    m.apply(root)
    return root


def _well_formed(p: Problem) -> None:
    line = str(p)
    assert line.isprintable(), f"unescaped control character in {line!r}"
    assert p.file in FILES or p.file in SETTINGS_SOURCES, line
    if p.file.endswith(".csv") and p.row is not None:
        assert p.row >= 1, line
    assert p.message, line


def _check_refusal(m: Mutation, error: InputError) -> None:
    assert error.problems
    for p in (*error.problems, *error.warnings):
        _well_formed(p)
    files = {p.file for p in error.problems}
    assert (m.file in files or files & set(SETTINGS_SOURCES)
            or (m.file == "market.json" and files & {"trades.csv", "counterparties.csv",
                                                     "csas.csv"})
            or (m.file == "csas.csv" and "netting_sets.csv" in files)
            or (m.file == "counterparties.csv" and "netting_sets.csv" in files)
            or (m.file == "netting_sets.csv" and "trades.csv" in files)), \
        f"{m.name}: no problem names {m.file}: {error.lines()}"
    if m.row is not None and m.row > 1 and m.file in files:
        assert any(p.row == m.row for p in error.problems if p.file == m.file) or any(
            p.row is None for p in error.problems), f"{m.name}: {error.lines()}"


def _check(m: Mutation, tmp_path: Path) -> str:
    root = _mutated(m, tmp_path)
    try:
        portfolio, warnings = check_portfolio(root, {}, here=True)
    except InputError as exc:
        _check_refusal(m, exc)
        return "refused"
    for w in warnings:
        _well_formed(w)
    values = price_t0(portfolio.compiled, portfolio.market)
    assert np.all(np.isfinite(values.npv)), m.name
    assert np.all(np.isfinite(values.npv_base)), m.name
    return "accepted"


FAST = _fast_sample()
_MODELS: dict[Any, Any] = {}  # the fast tier's models, by market.json content


@pytest.fixture
def model_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Reuse the cross-asset model of an unchanged market.json (its FX and equity vol
    calibration is most of the checks' time): the model is a function of market.json alone
    (every factor the market can simulate), so a CSV mutation gets the demo's model."""
    import xvaflow.xva.engine as engine

    real = engine.build_model

    def cached(market: Any, currencies: Any, equities: Any) -> Any:
        source = tmp_path / "portfolio" / "market.json"
        content = source.read_bytes() if source.is_file() and not source.is_symlink() else None
        key = (content, tuple(sorted(set(currencies))), tuple(sorted(set(equities))))
        if content is None:
            return real(market, currencies, equities)
        if key not in _MODELS:
            _MODELS[key] = real(market, currencies, equities)
        return _MODELS[key]

    monkeypatch.setattr(engine, "build_model", cached)


@pytest.mark.usefixtures("deadline", "model_cache")
@pytest.mark.parametrize("mutation", FAST, ids=[m.name for m in FAST])
def test_fuzz_fast(mutation: Mutation, tmp_path: Path) -> None:
    _check(mutation, tmp_path)


def test_the_table_covers_every_column_and_key() -> None:
    names = " ".join(m.name for m in FAST)
    for file in ("trades.csv", "netting_sets.csv", "counterparties.csv", "csas.csv"):
        for column in _rows(DEMO / file)[0]:
            assert f"{file}:header:{column}+NUL" in names
            assert f":{column}=" in names, (file, column)
    every = " ".join(m.name for m in MUTATIONS)
    fast_families = {_family(m.name.split("=")[0].split(":", 1)[1]) for m in FAST
                     if m.file == "market.json" and "=" in m.name}
    for file in ("market.json", "run.json"):
        for path in _json_leaves(json.loads((DEMO / file).read_text())):
            key = ".".join(map(str, path))
            assert f"{file}:{key}=" in every  # the slow tier: every key, every value
            if file == "market.json":
                assert _family(key) in fast_families, key
            else:
                assert f"{file}:{key}=" in names


def _by_name(prefix: str) -> Mutation:
    found = [m for m in MUTATIONS if m.name.startswith(prefix)]
    assert found, prefix
    return found[0]


@pytest.mark.usefixtures("deadline")
@pytest.mark.parametrize(("prefix", "outcome"), [
    ("market.json:curves nested 5000 deep", "refused"),
    ("run.json:paths nested 5000 deep", "refused"),
    ("csas.csv:2:mpor_days='1e308'", "refused"),
    ("trades.csv:2:notional='1e308'", "refused"),
    ("trades.csv:2:notional='1e26'", "refused"),
    ("market.json:fx_spots.EURUSD=1e+308", "refused"),
    ("market.json:fx_spots.EURUSD=1e-300", "refused"),
    ("trades.csv header only", "refused"),
    ("run.json:seed=18446744073709551616", "refused"),
    ("run.json:paths=1000000000000", "refused"),
    ("run.json:path_chunk=1", "refused"),
    ("run.json:grid='1M:10'", "refused"),
    ("run.json:backend='cupy'", "refused"),
    ("trades.csv fifo", "refused"),
    ("market.json fifo", "refused"),
    ("trades.csv /dev/zero", "refused"),
    ("market.json /dev/urandom", "refused"),
    ("trades.csv:2:maturity_date='9999-12-31'", "refused"),
    ("market.json:as_of='1900-01-01'", "refused"),
    ("market.json:hull_white.USD.mean_reversion=-0.5", "refused"),
    ("market.json:hull_white.USD.volatility=1e-300", "refused"),
    ("market.json:funding.borrow_spread_bp=-0.5", "refused"),
    ("netting_sets.csv:2:netting_set_id='PORTFOLIO'", "refused"),
    ("trades.csv:2:trade_id='\\x00'", "refused"),
    ("trades.csv:2:trade_id='A\\u202eB'", "refused"),
    ("trades.csv:header:trade_id+NUL", "refused"),
    ("netting_sets.csv without csa_id", "accepted"),
])
def test_fuzz_covers_the_issues_classes(prefix: str, outcome: str, tmp_path: Path) -> None:
    assert _check(_by_name(prefix), tmp_path) == outcome


def test_fuzz_special_cases(tmp_path: Path) -> None:
    """Classes whose mutation is not a single cell or key value: an unused expiry_date of
    year 0 (warned), last_fixing -0.5, a negative Hull-White mean reversion within the bound
    (warned), an unknown correlation factor."""
    cases: list[tuple[str, Callable[[Path], None], str]] = [
        ("expiry 0000 on IRS", _cell("trades.csv", 2,
                                     _rows(DEMO / "trades.csv")[0].index("expiry_date"),
                                     "0000-01-01"), "accepted"),
        ("last_fixing -0.5", _cell("trades.csv", 3,
                                   _rows(DEMO / "trades.csv")[0].index("last_fixing"), "-0.5"),
         "refused"),
        ("mean reversion -0.03", _json_set("market.json", ("hull_white", "USD",
                                                           "mean_reversion"), -0.03),
         "accepted"),
        ("unknown factor", _json_set("market.json", ("correlations", "IR_USD:FX_USDEUR"), 0.1),
         "refused"),
    ]
    for i, (name, apply, outcome) in enumerate(cases):
        assert _check(Mutation(name, "trades.csv" if "fix" in name or "expiry" in name
                               else "market.json", apply), tmp_path / str(i)) == outcome, name


# --- the slow tier: the command line, every value, and small runs ----------------------------
def _finite_json(doc: Any) -> None:
    if isinstance(doc, dict):
        for v in doc.values():
            _finite_json(v)
    elif isinstance(doc, list):
        for v in doc:
            _finite_json(v)
    elif isinstance(doc, float):
        assert math.isfinite(doc)


CHUNK = 60
CHUNKS = [MUTATIONS[i:i + CHUNK] for i in range(0, len(MUTATIONS), CHUNK)]


def _command_line(mutation: Mutation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                  ) -> None:
    root = _mutated(mutation, tmp_path)
    code = main(["validate", str(root)])
    err = capsys.readouterr().err
    assert "Traceback" not in err, mutation.name
    if code == 2:
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert errors, (mutation.name, err)
        assert err.splitlines()[-1].endswith("problem(s); nothing was computed."), mutation.name
        for line in errors:
            assert line.isprintable(), (mutation.name, line)
            assert line[len("error: "):].startswith(FILES + SETTINGS_SOURCES), line
        return
    assert code == 0, (mutation.name, err)
    assert main(["price", str(root), "--out", str(tmp_path / "out")]) == 0, mutation.name
    capsys.readouterr()
    _finite_json(json.loads((tmp_path / "out" / "results.json").read_text()))
    if zlib.crc32(mutation.name.encode()) % 20 == 0:  # a sample of the accepted: a small run
        assert main(["run", str(root), "--out", str(tmp_path / "run"), "--paths", "64",
                     "--grid", "3M:1Y", "--partitions", "1", "--workers", "1"]) == 0, \
            mutation.name
        capsys.readouterr()
        _finite_json(json.loads((tmp_path / "run" / "results.json").read_text()))
        with (tmp_path / "run" / "exposure.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                for key, value in row.items():
                    if key not in ("netting_set_id", "date") and value:
                        assert math.isfinite(float(value)), (mutation.name, key, value)


@pytest.mark.slow
@pytest.mark.usefixtures("deadline")
@pytest.mark.parametrize("chunk", range(len(CHUNKS)))
def test_fuzz_command_line(chunk: int, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """Every mutation through ``xvaflow validate`` and, when accepted, ``price`` (chunks of
    :data:`CHUNK` mutations per test: collecting 3,500 cases costs the fast tier seconds)."""
    for i, mutation in enumerate(CHUNKS[chunk]):
        signal.alarm(60)  # re-armed per mutation: a blocked input fails (see ``deadline``)
        _command_line(mutation, tmp_path / str(i), capsys)
