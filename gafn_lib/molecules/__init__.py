"""The molecule domain of the paper: what graphs need on top of the core.

- :mod:`~gafn_lib.molecules.config` — the molecule size / reward / network fields every molecule
  config shares, and the GFlowNet's config ``MolTrainConfig``;
- :mod:`~gafn_lib.molecules.policy` — the block-graph message-passing policy (``network="compact"``);
- :mod:`~gafn_lib.molecules.release_net` — the public release's block-graph network (``network="release"``);
- :mod:`~gafn_lib.molecules.networks` — either network by name;
- :mod:`~gafn_lib.molecules.sampling` — graph trajectory sampling and the loss terms;
- :mod:`~gafn_lib.molecules.scoring` — proxy scores and rewards of finished molecules (cached);
- :mod:`~gafn_lib.molecules.graph_rnd` — the public release's block-graph RND;
- :mod:`~gafn_lib.molecules.base` — ``MoleculeTrainer``, the base of every molecule trainer;
- :mod:`~gafn_lib.molecules.trainer` — the molecule GFlowNet / GAFlowNet trainer;
- :mod:`~gafn_lib.molecules.metrics` — top-k reward, modes, Tanimoto diversity;
- :mod:`~gafn_lib.molecules.tracking` — ``MolMetricsTracker``: the molecules a run generated, its metric rows;
- :mod:`~gafn_lib.molecules.cli` — ``python -m gafn_lib mols``.

The fragment MDP and the sEH proxy live in :mod:`gafn_lib.envs`; molecule baselines in
:mod:`gafn_lib.baselines`.
"""
