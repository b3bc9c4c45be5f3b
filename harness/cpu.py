"""CPU settings that must be made before torch loads."""

from __future__ import annotations

import os
import sys


def openmp_wait_policy() -> str:
    """Choose OMP_WAIT_POLICY for this process unless the user set it, and return it.

    OpenMP threads that spin while they wait are faster on idle cores (generation on 2
    idle cores: 40 new tokens/s spinning, 31 sleeping) but many times slower when the
    cores are busy with other work (training on shared cores: one LoRA step 24 s
    spinning, 12.5 s sleeping); see tests/benchmarks/bench_eval.py. So: sleep (PASSIVE)
    when the 1-minute load average already fills the cores, else OpenMP's default.
    OpenMP reads the variable once, when torch loads, so this must run before that."""
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return os.environ.get("OMP_WAIT_POLICY", "default")
    if os.getloadavg()[0] >= (os.cpu_count() or 1):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return "PASSIVE"
    return "default"
