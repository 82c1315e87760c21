"""Small descriptive statistics."""

from calc.stats import mean, median, mode, value_range, variance

__all__ = ["mean", "median", "mode", "value_range", "variance"]
