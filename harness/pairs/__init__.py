"""Preference data for DPO from any source: pairs files (files), what ranks candidates (scorers),
pairs from scored candidates (build)."""
