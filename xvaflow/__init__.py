"""xvaflow: XVA pipeline for derivatives dealers."""

__version__ = "0.1.0"
