"""The harness pins torch's and MKL's CPU code paths before torch loads (harness/cpu.py)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 only")

PROBE = "import harness, os, torch; print(harness.CPU_KERNELS, os.environ.get('MKL_CBWR'), torch.backends.cpu.get_cpu_capability())"


def probe(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "EMPATHY_HARNESS_CPU_KERNELS")}
    out = subprocess.run([sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_the_harness_first_runs_avx2_kernels():
    assert probe() == ["avx2", "AVX2", "AVX2"]


def test_native_keeps_the_machines_kernels_and_a_users_own_setting_wins():
    kernels, mkl, _ = probe(EMPATHY_HARNESS_CPU_KERNELS="native")
    assert (kernels, mkl) == ("native", "None")
    assert probe(ATEN_CPU_CAPABILITY="default", MKL_CBWR="COMPATIBLE") == ["avx2", "COMPATIBLE", "DEFAULT"]
