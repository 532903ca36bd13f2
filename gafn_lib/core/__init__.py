"""The domain-agnostic core: what every environment plugs into.

Data flows top to bottom through these modules:

- :mod:`~gafn_lib.core.env` — the environment protocol (what the sampler, the objectives, the
  trainer and exact evaluation ask of an environment);
- :mod:`~gafn_lib.core.policies`, :mod:`~gafn_lib.core.sampling` — masked logits, a policy given as
  tables (exact checks), the trajectory batch and the sampling distribution; the engine's network
  and sampler are in :mod:`~gafn_lib.core.ensemble` (``policy``, ``sampling``);
- :mod:`~gafn_lib.core.terms`, :mod:`~gafn_lib.core.augment`, :mod:`~gafn_lib.core.objectives` —
  the loss inputs, the edge / node / joint augmented flows, and TB / DB / SubTB / FM;
- :mod:`~gafn_lib.core.intrinsic` — the one registry of intrinsic rewards r(s) (RND, counts, yours)
  and which trainers support each;
- :mod:`~gafn_lib.core.trainer` — the GFlowNet trainer for tensor-state environments;
- :mod:`~gafn_lib.core.ensemble` — K runs trained in lockstep as one batched model (the trainer is its K = 1);
- :mod:`~gafn_lib.core.metrics`, :mod:`~gafn_lib.core.exact`, :mod:`~gafn_lib.core.tracking` —
  distribution metrics, exact evaluation by dynamic programming, per-run metric tracking;
- :mod:`~gafn_lib.core.loop`, :mod:`~gafn_lib.core.history` — the logged training loop, checkpoints,
  the history of a run.

Nothing here imports an environment, a domain package or the notebooks' support code.
"""
