"""What every lockstep ensemble trainer shares: the logged loop and the members' checkpoint state.

A trainer using :class:`MemberRuns` has ``n_members``, ``step_count``, ``wall_seconds``,
``histories``, ``_last_infos``, ``generators`` (one ``torch.Generator`` per member), ``policy_net``,
``optimizer``, ``trackers`` and ``evaluate_members()`` (one history row per member). Used by
:class:`gafn_lib.core.ensemble.EnsembleTrainer` (GFlowNets) and
:class:`gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer` (PPO).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from gafn_lib.core.history import History, restored_rows
from gafn_lib.core.loop import load_rng_state, rng_state, step_until


def check_member_configs(configs: Sequence[Any], config_type: type, type_name: str, key: Callable[[Any], str],
                         member_fields: Sequence[str], what: str = "an ensemble") -> list:
    """``configs`` as a list, after checking that there is at least one, that each is a
    ``config_type`` (named ``type_name`` in the error) and that all share ``key(config)``; the error
    for a mismatch names the fields outside ``member_fields`` that differ."""
    configs = list(configs)
    if not configs:
        raise ValueError(f"configs must hold at least one {type_name}")
    for c in configs:
        if not isinstance(c, config_type):
            raise TypeError(f"configs must be {type_name} instances, got {type(c).__name__}")
    first = key(configs[0])
    for i, c in enumerate(configs[1:], start=1):
        if key(c) != first:
            differing = [f.name for f in dataclasses.fields(c)
                         if f.name not in member_fields and getattr(c, f.name) != getattr(configs[0], f.name, None)]
            raise ValueError(f"configs[{i}] cannot share {what} with configs[0]: they differ in "
                             f"{differing or ['their class']} (members may differ only in {tuple(member_fields)})")
    return configs


class MemberRuns:
    """Mixin: :meth:`train` and the common part of ``state_dict`` / ``load_state_dict``."""

    def train(self, n_steps: int | None = None, progress: bool = True, on_log: Callable[[Any], None] | None = None) -> list[History]:
        """Step every member until ``n_steps`` (default ``config.n_steps``), logging one row per
        member every ``log_every`` steps and at the last step; ``on_log(trainer)`` follows each
        logged step. Returns the members' histories."""

        def log_rows() -> None:
            for history, row in zip(self.histories, self.evaluate_members()):
                history.log(row)

        step_until(self, n_steps, progress, on_log, log_rows)
        return self.histories

    def _members_state(self) -> dict:
        """Counters, histories, last losses, generators, policy, optimizer, trackers and the global
        RNGs: tensors and plain containers only (``torch.load(..., weights_only=True)``)."""
        return {
            "n_members": self.n_members,
            "step_count": self.step_count,
            "wall_seconds": self.wall_seconds,
            "history_rows": [[dict(r) for r in h.rows] for h in self.histories],
            "last_info": [dict(i) for i in self._last_infos],
            "generators": [g.get_state() for g in self.generators],
            "policy": self.policy_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "trackers": [t.state_dict() for t in self.trackers],
            **rng_state(),
        }

    def _load_members_state(self, state: dict) -> None:
        """Restore what :meth:`_members_state` saved (the trainer restores its own extras)."""
        if int(state["n_members"]) != self.n_members:
            raise ValueError(f"the checkpoint holds {state['n_members']} members, this ensemble {self.n_members}")
        self.step_count = int(state["step_count"])
        self.wall_seconds = float(state["wall_seconds"])
        for h, rows in zip(self.histories, state["history_rows"]):
            h.rows = restored_rows(rows)
        self._last_infos = [dict(i) for i in state["last_info"]]
        for g, s in zip(self.generators, state["generators"]):
            g.set_state(s)
        self.policy_net.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        for t, s in zip(self.trackers, state["trackers"]):
            t.load_state_dict(s)
        load_rng_state(state)
