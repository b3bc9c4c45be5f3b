"""Empathy harness: EmpatheticDialogues tasks and EmPO's empathy metrics on lm-evaluation-harness."""

__version__ = "0.1.0"

from harness.cpu import pin_cpu_kernels as _pin_cpu_kernels

# Before anything imports torch: the same CPU kernels on every x86 machine (harness/cpu.py).
CPU_KERNELS = _pin_cpu_kernels()
