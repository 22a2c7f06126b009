"""Pre-deal what-if against whole-book reruns on the same seed.

examples/demo plus a new USD swap in NS_ACME and a new FX option (an expiry date nobody else
has) in NS_HELIOS: ``incremental_xva`` reports, per touched netting set, the book's figure,
the figure with the new trades and the increment with its standard error. The references are
two independent ``run_partition`` runs of the whole book (every netting set) with and without
the new trades, same seed and exposure grid:

- each touched netting set's base and with-trades figures equal the whole-book runs' to 1e-12
  relative, so the increment is their difference;
- the untouched netting set (NS_NORDBANK) is bit-identical in the two whole-book runs: the new
  trades' dates change no other netting set's paths, which is why only the touched ones need
  simulating;
- the increment's standard error (common random numbers) is below that of a difference of
  independent runs, sqrt(se_before^2 + se_after^2).
Input errors name the new trades' file and row.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from xvaflow.core.errors import InputError
from xvaflow.io.portfolio import load_portfolio, with_new_trades
from xvaflow.xva.adjustments import batch_stderr
from xvaflow.xva.engine import RunSettings, run_partition
from xvaflow.xva.whatif import incremental_xva

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = RunSettings(paths=2000, seed=11, grid="1M:1Y,3M:8Y")
HEADER = ("trade_id,netting_set_id,product,direction,notional,currency,start_date,"
          "maturity_date,fixed_rate,fixed_frequency,fixed_daycount,float_index,"
          "float_frequency,float_spread,float_daycount,buy_currency,buy_amount,sell_currency,"
          "sell_amount,expiry_date")
NEW = [
    "N1,NS_ACME,IRS,receiver,50000000,USD,2026-11-24,2033-11-24,0.036,annual,ACT/360,"
    "USD-SOFR,annual,0,ACT/360,,,,,",
    "N2,NS_HELIOS,FXOPT,long,,,,2028-02-17,,,,,,,,EUR,8000000,USD,8800000,2028-02-15",
]


def _file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "new.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_increments_equal_whole_book_reruns(tmp_path: Path) -> None:
    book = load_portfolio(DEMO)
    combined = with_new_trades(book, _file(tmp_path, NEW))
    section = incremental_xva(book, combined, SETTINGS)
    assert list(section["netting_sets"]) == ["NS_ACME", "NS_HELIOS"]
    assert set(section["trades"]) == {"N1", "N2"}
    fixed = RunSettings(paths=SETTINGS.paths, seed=SETTINGS.seed, grid=section["grid"])
    ids = list(book.compiled.netting_set_ids)
    before, after = (run_partition(p, ids, fixed) for p in (book, combined))
    assert after.netting_sets == ids
    n, size = before.n_paths, before.batch_size
    for m in ("cva", "dva", "fca", "fba"):
        j = ids.index("NS_NORDBANK")
        assert before.xva[m][0][j] == after.xva[m][0][j], m  # untouched: the same numbers
        assert np.array_equal(before.xva[m][1][:, j], after.xva[m][1][:, j]), m
        for ns, entry in section["netting_sets"].items():
            j = ids.index(ns)
            got = entry[m]
            assert math.isclose(got["base"], before.xva[m][0][j] / n, rel_tol=1e-12), (ns, m)
            assert math.isclose(got["with_trades"], after.xva[m][0][j] / n, rel_tol=1e-12)
            independent = math.hypot(float(batch_stderr(before.xva[m][1], size)[j]),
                                     float(batch_stderr(after.xva[m][1], size)[j]))
            assert 0.0 < got["increment_stderr"] < independent, (ns, m)
    total = section["totals"]["cva"]["increment"]
    assert math.isclose(total, sum(e["cva"]["increment"]
                                   for e in section["netting_sets"].values()), rel_tol=1e-12)
    assert section["netting_sets"]["NS_ACME"]["ead"]["increment"] != 0.0


@pytest.mark.parametrize(("row", "message"), [
    ("T001,NS_ACME,IRS,receiver,1000000,USD,2026-11-24,2030-11-24,0.03,annual,ACT/360,"
     "USD-SOFR,annual,0,ACT/360,,,,,", "new.csv row 2 (T001), trade_id: 'T001' is already in"),
    ("N9,NS_NOBODY,IRS,receiver,1000000,USD,2026-11-24,2030-11-24,0.03,annual,ACT/360,"
     "USD-SOFR,annual,0,ACT/360,,,,,", "new.csv row 2 (N9), netting_set_id: 'NS_NOBODY'"),
])
def test_bad_new_trades_name_their_file_and_row(tmp_path: Path, row: str, message: str
                                                ) -> None:
    book = load_portfolio(DEMO)
    with pytest.raises(InputError) as err:
        with_new_trades(book, _file(tmp_path, [row]))
    assert any(message in str(p) for p in err.value.problems), err.value.problems
