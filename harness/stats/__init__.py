"""Significance tests, intervals, effect sizes and corrections for comparing systems.

Per-example metrics on the same examples: `paired_tests` (sign-flip permutation test and
paired bootstrap interval; many metrics at once). Per-example 0/1 accuracies:
`mcnemar_exact`. Different example sets: `welch_t_test`. Corpus-level metrics:
`approximate_randomization`, or `decomposed_randomization` when the metric is a
function of per-example sums (Emp-F1, Dist-n). Then `cohens_dz` / `cohens_d`, `adjust` (Holm, BH),
`minimum_detectable_difference`, `across_seeds`. Each test returns a `TestResult`.
"""

from harness.stats.accuracy import is_binary, mcnemar_exact
from harness.stats.corpus import (DEFAULT_CORPUS_RESAMPLES, MIN_RESAMPLES, Decomposition, approximate_randomization,
                                  corpus_bootstrap_ci, decomposed_half_sampling, decomposed_randomization)
from harness.stats.corrections import adjust, benjamini_hochberg, holm
from harness.stats.effect import cohens_d, cohens_dz
from harness.stats.paired import (DEFAULT_RESAMPLES, paired_bootstrap_ci, paired_permutation_test, paired_tests,
                                  permutation_pvalues)
from harness.stats.power import DetectableDifference, minimum_detectable_difference
from harness.stats.result import Interval, TestResult
from harness.stats.seeds import SeedSummary, across_seeds
from harness.stats.unpaired import welch_t_test

__all__ = [
    "DEFAULT_CORPUS_RESAMPLES", "DEFAULT_RESAMPLES", "DetectableDifference", "Interval", "SeedSummary", "TestResult",
    "Decomposition", "MIN_RESAMPLES", "across_seeds", "decomposed_half_sampling", "decomposed_randomization", "adjust", "approximate_randomization", "corpus_bootstrap_ci", "benjamini_hochberg", "cohens_d", "cohens_dz", "holm",
    "is_binary", "mcnemar_exact", "minimum_detectable_difference", "paired_bootstrap_ci", "paired_permutation_test",
    "paired_tests", "permutation_pvalues", "welch_t_test",
]
