"""Column names of the portfolio files that map onto record fields (file format, not domain)."""

from __future__ import annotations

from xvaflow.core.dates import Tenor

CDS_COLUMNS = ("cds_6m", "cds_1y", "cds_2y", "cds_3y", "cds_5y", "cds_7y", "cds_10y")
CDS_TENORS = {"cds_6m": Tenor(6, "M"), "cds_1y": Tenor(1, "Y"), "cds_2y": Tenor(2, "Y"),
              "cds_3y": Tenor(3, "Y"), "cds_5y": Tenor(5, "Y"), "cds_7y": Tenor(7, "Y"),
              "cds_10y": Tenor(10, "Y")}
