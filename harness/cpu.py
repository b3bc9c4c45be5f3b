"""CPU settings that must be made before torch loads."""

from __future__ import annotations

import os
import platform
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


KERNELS_ENV = "EMPATHY_HARNESS_CPU_KERNELS"


def pin_cpu_kernels() -> str:
    """Make x86 CPUs run torch's and MKL's AVX2 code paths, unless the user chose, and return the choice.

    torch picks its CPU kernels by instruction set (AVX-512 where the CPU has it) and MKL its
    code path by CPU model, and the paths round differently: with every package at the lock's
    version, the EPITOME instrument trained on an AVX-512 machine differs from one trained on
    an AVX2 machine in every weight. Pinned to AVX2 (ATEN_CPU_CAPABILITY, MKL_CBWR), training
    and generation give the same bits on any x86-64 machine with AVX2 (2-core machines; the
    thread count is part of it). `EMPATHY_HARNESS_CPU_KERNELS=native` keeps each machine's
    fastest kernels. Both libraries read the variables once, when torch loads."""
    choice = os.environ.get(KERNELS_ENV, "avx2").lower()
    if choice == "native" or "torch" in sys.modules or platform.machine().lower() not in ("x86_64", "amd64"):
        return "native"
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
    os.environ.setdefault("MKL_CBWR", "AVX2")
    return "avx2"
