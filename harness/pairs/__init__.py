"""Preference data for DPO from any source: pair files (files), candidate scorers (scorers), pairs from scored candidates (build)."""
