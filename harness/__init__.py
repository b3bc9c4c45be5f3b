"""Empathy harness: EmpatheticDialogues tasks and EmPO's empathy metrics on lm-evaluation-harness."""

__version__ = "0.1.0"
