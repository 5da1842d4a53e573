"""Integrity checks: schema, ranges, categories, missing values, duplicates, label and prior shift, per-feature
drift; a registry that packages extend through entry points; a suite that runs them on each batch.

Importing this package costs NumPy only; scipy loads when a statistical check first runs.
"""

from __future__ import annotations

from .base import CheckData, CheckResult, Column, Finding, IntegrityCheck, as_check_data
from .builtin import Categories, Duplicates, FeatureDrift, LabelShift, MissingValues, PriorShift, Ranges, Schema
from .registry import BUILTIN_CHECKS, DEFAULT_CHECKS, ENTRY_POINT_GROUP, available_checks, check_class
from .suite import IntegrityReport, IntegritySuite

__all__ = [
    "BUILTIN_CHECKS",
    "DEFAULT_CHECKS",
    "ENTRY_POINT_GROUP",
    "Categories",
    "CheckData",
    "CheckResult",
    "Column",
    "Duplicates",
    "FeatureDrift",
    "Finding",
    "IntegrityCheck",
    "IntegrityReport",
    "IntegritySuite",
    "LabelShift",
    "MissingValues",
    "PriorShift",
    "Ranges",
    "Schema",
    "as_check_data",
    "available_checks",
    "check_class",
]
