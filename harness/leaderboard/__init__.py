"""Runs in; comparisons, markdown / CSV / JSON leaderboards and PNG figures out."""
