"""The EPITOME classifiers (Sharma et al. 2020), trained here, and what they need.

- `data`: the three Reddit CSVs, rationale token labels, the fixed stratified split;
- `model`: the bi-encoder; `recipes`: hyperparameters per backbone;
- `training`: one classifier (model selection on validation) and a whole instrument;
- `store`: where instruments live, which backbone is used, save/load with manifests;
- `prediction`: load once, levels in batches, held-out evaluation.
"""

from harness.epitome.data import MECHANISMS

__all__ = ["MECHANISMS", "ensure_instrument", "load_instrument"]


def ensure_instrument(backbone=None, progress=True, directory=None):
    """The instrument's folder, training any missing classifier first (see prediction)."""
    from harness.epitome.prediction import ensure_instrument as ensure

    return ensure(backbone, progress=progress, directory=directory)


def load_instrument(backbone=None, directory=None, **kwargs):
    from harness.epitome.prediction import load_instrument as load

    return load(backbone, directory, **kwargs)
