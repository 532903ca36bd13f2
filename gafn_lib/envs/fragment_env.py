"""The fragment-based molecule MDP on the environment protocol (:mod:`gafn_lib.core.env`).

:class:`gafn_lib.envs.fragments.FragmentMDP` works one Python state (:class:`BlockState`) at a
time; the paper's molecule experiment trains a block-graph policy on it
(:mod:`gafn_lib.molecules`). :class:`FragmentEnvironment` puts the same MDP behind the protocol, so
the core trainer, sampler and objectives run on molecules unchanged (with an MLP policy on a flat
encoding; a teaching and testing path, not the paper's model):

- a batch of states is a ``(B, 1)`` long tensor of *state ids*: each distinct :class:`BlockState`
  met so far gets an id (interned in :attr:`states`);
- forward actions keep the MDP's layout: ``0`` is *stop*, ``1 + k·V + b`` attaches block ``b`` at
  open stem ``k`` (``V = 105``), for ``k < max_stems``; a forced-terminal molecule (``max_blocks``
  blocks, or no open stem) has an all-False mask and ends the episode;
- backward action ``j`` removes block ``j`` (a removable leaf); the move that attached the newest
  block is undone by removing it (block ``n_blocks − 1``);
- ``parents`` lists every forward edge into a state (the MDP's equivalent blocks and stems
  included), as flow matching needs;
- ``encode``: counts of each of the 72 fragments, a one-hot of the number of blocks and of the
  number of open stems (a lossy summary of the molecule);
- ``log_reward``: ``log R(score)`` of the sEH proxy score through a :class:`MolReward` (cached by
  state).

The state space is far too large to enumerate: exact evaluation does not apply, and the trainer's
metrics are the sampled ones.
"""

from __future__ import annotations

import numpy as np
import torch

from gafn_lib.core.env import Parents
from gafn_lib.envs.fragments import STOP, BlockState, FragmentMDP
from gafn_lib.envs.mol_reward import MolReward


class FragmentEnvironment:
    """The fragment MDP behind the protocol (see the module docstring).

    Args:
        mdp: the MDP (default: the 105-block vocabulary, 2 to 8 blocks).
        reward: the score-to-reward transform (default: the paper's sparse reward).
        proxy: an :class:`gafn_lib.envs.sehproxy.SEHProxy` (default: loaded from ``data/``), or any
            object with ``score_mols(mols, stem_atoms)``.
        device: where tensors live.
    """

    name = "fragments"
    stop_action = STOP

    def __init__(self, mdp: FragmentMDP | None = None, reward: MolReward | None = None, proxy=None, device: str | torch.device = "cpu"):
        self.mdp = mdp if mdp is not None else FragmentMDP()
        self.reward_fn = reward if reward is not None else MolReward()
        if proxy is None:
            from gafn_lib.envs.sehproxy import SEHProxy

            proxy = SEHProxy.load()
        self.proxy = proxy
        self.device = torch.device(device)
        vocab = self.mdp.vocab
        # open stems never exceed one per stem atom of every placed block (the first block keeps all of its own)
        most = max(len(r) for r in vocab.stems)
        self.max_stems = most + (self.mdp.max_blocks - 1) * max(most - 1, 0)
        self.n_actions = 1 + self.max_stems * self.mdp.n_block_types
        self.n_backward_actions = self.mdp.max_blocks
        self.max_moves = self.mdp.max_blocks
        self.n_frags = vocab.n_frags
        self.obs_dim = self.n_frags + (self.mdp.max_blocks + 1) + (self.max_stems + 1)
        self.states: list[BlockState] = []
        self._ids: dict[BlockState, int] = {}
        self._log_reward: dict[int, float] = {}
        self._intern(self.mdp.initial_state)

    def __repr__(self) -> str:
        return f"FragmentEnvironment(blocks={self.mdp.min_blocks}..{self.mdp.max_blocks}, reward={self.reward_fn!r})"

    # ------------------------------------------------------------------ state ids
    def _intern(self, state: BlockState) -> int:
        sid = self._ids.get(state)
        if sid is None:
            sid = len(self.states)
            self._ids[state] = sid
            self.states.append(state)
        return sid

    def block_states(self, states: torch.Tensor) -> list[BlockState]:
        """The :class:`BlockState` of each row of a ``(B, 1)`` id tensor."""
        return [self.states[i] for i in states[:, 0].tolist()]

    def _ids_tensor(self, blocks: list[BlockState]) -> torch.Tensor:
        return torch.tensor([[self._intern(s)] for s in blocks], dtype=torch.long, device=self.device).view(len(blocks), 1)

    def _forced(self, s: BlockState) -> bool:
        return self.mdp.is_forced_terminal(s)

    # ------------------------------------------------------------------ protocol
    def reset(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, 1, dtype=torch.long, device=self.device)  # id 0 is the empty molecule

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(states.shape[0], self.n_actions, dtype=torch.bool, device=self.device)
        for row, s in enumerate(self.block_states(states)):
            if self._forced(s):
                continue  # the episode ends here: no action
            mask[row, STOP] = self.mdp.can_stop(s)
            mask[row, 1 : 1 + self.mdp.n_stems(s) * self.mdp.n_block_types] = True
        return mask

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(states.shape[0], self.n_backward_actions, dtype=torch.bool, device=self.device)
        for row, s in enumerate(self.block_states(states)):
            leaves = self.mdp.removable_leaves(s)
            if leaves:
                mask[row, torch.tensor(leaves, dtype=torch.long)] = True
        return mask

    def step_unchecked(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nxt, done = [], []
        for s, a in zip(self.block_states(states), actions.tolist()):
            if a == STOP:
                nxt.append(s)
                done.append(True)
            else:
                child = self.mdp.step(s, a)
                nxt.append(child)
                done.append(self._forced(child))
        return self._ids_tensor(nxt), torch.tensor(done, dtype=torch.bool, device=self.device)

    def backward_action(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Removing the newest block (index ``n_blocks`` of the parent) undoes an attachment."""
        return torch.tensor([s.n_blocks for s in self.block_states(states)], dtype=torch.long, device=self.device)

    def parents(self, states: torch.Tensor) -> Parents:
        edges = [self.mdp.parents(s) for s in self.block_states(states)]
        width = max(1, max(len(e) for e in edges))
        ids = torch.zeros(len(edges), width, 1, dtype=torch.long, device=self.device)
        acts = torch.zeros(len(edges), width, dtype=torch.long, device=self.device)
        mask = torch.zeros(len(edges), width, dtype=torch.bool, device=self.device)
        for row, es in enumerate(edges):
            for col, (parent, action) in enumerate(es):
                ids[row, col, 0] = self._intern(parent)
                acts[row, col] = action
                mask[row, col] = True
        return Parents(ids, acts, mask)

    def encode(self, states: torch.Tensor) -> torch.Tensor:
        blocks = self.block_states(states)
        out = torch.zeros(len(blocks), self.obs_dim, device=self.device)
        for row, s in enumerate(blocks):
            for f in s.frags:
                out[row, f] += 1.0
            out[row, self.n_frags + s.n_blocks] = 1.0
            out[row, self.n_frags + self.mdp.max_blocks + 1 + min(len(s.stems), self.max_stems)] = 1.0
        return out

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        """``log R(score(x))`` of finished molecules (the empty molecule gets the reward's floor)."""
        ids = states[:, 0].tolist()
        todo = sorted({i for i in ids if i not in self._log_reward})
        scored = [i for i in todo if self.states[i].n_blocks > 0]
        if scored:
            mols = [self.mdp.to_mol(self.states[i]) for i in scored]
            stems = [self.mdp.stem_atoms(self.states[i]) for i in scored]
            values = self.reward_fn.log_reward(self.proxy.score_mols(mols, stems))
            self._log_reward.update(zip(scored, values.tolist()))
        for i in todo:
            self._log_reward.setdefault(i, float(np.log(self.reward_fn.floor)))
        return torch.tensor([self._log_reward[i] for i in ids], dtype=torch.float32, device=self.device)

    def same_state(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool: rows of ``a`` and ``b`` hold the same labelled molecule (equal
        :meth:`FragmentMDP.stem_smiles <gafn_lib.envs.fragments.FragmentMDP.stem_smiles>`). One
        molecule built in two block orders is interned as two ids; :meth:`parents` lists the
        forward edges of both (the MDP's equivalent blocks), so
        :func:`gafn_lib.core.env.check_environment` compares a listed parent's child with this."""
        keys = lambda states: [self.mdp.stem_smiles(s) for s in self.block_states(states)]  # noqa: E731
        same = [i == j or ka == kb for i, j, ka, kb in zip(a[:, 0].tolist(), b[:, 0].tolist(), keys(a), keys(b))]
        return torch.tensor(same, dtype=torch.bool, device=self.device)

    def smiles(self, states: torch.Tensor) -> list[str]:
        """Canonical SMILES of each (non-empty) molecule."""
        return [self.mdp.smiles(s) if s.n_blocks else "" for s in self.block_states(states)]
