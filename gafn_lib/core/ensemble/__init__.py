"""Many runs as one batched model: stacked networks, stacked intrinsic rewards, lockstep sampling
with per-member random streams, and :class:`EnsembleTrainer` (the solo trainer is its ``K = 1``)."""

from gafn_lib.core.ensemble.trainer import MEMBER_FIELDS, EnsembleTrainer, compatibility_key, ensemble_id, train_ensemble

__all__ = ["MEMBER_FIELDS", "EnsembleTrainer", "compatibility_key", "ensemble_id", "train_ensemble"]
