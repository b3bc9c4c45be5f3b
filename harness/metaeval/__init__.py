"""Meta-evaluation: how well each metric agrees with human ratings (`empathy-harness meta-eval`)."""
