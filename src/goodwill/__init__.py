"""goodwill: keep account of a company's bank of customer goodwill."""

__version__ = "0.1.0"
