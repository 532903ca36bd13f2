"""Training GFlowNets and GAFlowNets on any environment with tensor states (the hypergrid, bit
strings, or your own: see :mod:`gafn_lib.core.env`).

One training step, top to bottom:

1. sample ``B`` trajectories with the current policy (no gradient, lockstep);
2. one batched forward pass of the policy on every visited state → ``log P_F``, ``log P_B``,
   ``log F`` (and, for FM, the edge flows of every parent);
3. intrinsic reward of every visited state (detached) and the intrinsic model's own loss;
4. :func:`gafn_lib.core.augment.augment` → the objective's loss;
5. one Adam step (networks at ``lr``, ``log Z`` at ``lr_logz``);
6. every ``log_every`` steps: metrics (cumulative-visit L1, exact-policy L1 by DP, modes).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from gafn_lib.core.augment import augment
from gafn_lib.core.config import TrainConfig
from gafn_lib.core.env import Parents, check_environment, is_enumerable
from gafn_lib.core.history import History
from gafn_lib.core.intrinsic import RND, make_intrinsic
from gafn_lib.core.loop import Trainer
from gafn_lib.core.objectives import db_loss, fm_loss, subtb_loss, tb_loss
from gafn_lib.core.policies import MLPPolicy, masked_log_softmax
from gafn_lib.core.runtime import configure_threads, resolve_device, seed_everything
from gafn_lib.core.sampling import Trajectories, action_probabilities, sample_trajectories
from gafn_lib.core.terms import NEG_INF, FlowMatchingTerms, TrajectoryTerms
from gafn_lib.core.tracking import make_tracker


def describe_env(env) -> str:
    """How a run's history names its environment: ``repr(env)`` (e.g. ``Hypergrid(ndim=2, ...)``)."""
    return repr(env)


class GFlowNetTrainer(Trainer):
    """A (GA)FlowNet on an environment with tensor states, steppable, checkpointable
    (``state_dict``) and resumable.

    ``GFlowNetTrainer(config, env=None)``: ``config`` is the algorithm (:class:`TrainConfig`);
    ``env`` any object implementing :class:`gafn_lib.core.env.Environment` (checked before any
    compute). Without ``env`` the config builds it (``config.make_env``: the hypergrid of a
    :class:`gafn_lib.grid.config.GridTrainConfig`, the named environment of an
    :class:`gafn_lib.core.config.EnvTrainConfig`). The history records the environment (``env``).

    Example:
        >>> trainer = GFlowNetTrainer(GridTrainConfig(height=8, n_steps=500))
        >>> history = trainer.train()
        >>> history.final["modes_found"]
    """

    _components = ("policy", "intrinsic", "optimizer", "tracker")

    def __init__(self, config: TrainConfig, env=None):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig (or GridTrainConfig / EnvTrainConfig), got {type(config).__name__}")
        self.config = config
        configure_threads(config.threads)
        self.device = resolve_device(config.device)
        self.env = config.make_env(self.device) if env is None else env
        check_environment(self.env)
        self.enumerable = is_enumerable(self.env)
        seed_everything(config.seed)
        self.policy = MLPPolicy(
            self.env.obs_dim, self.env.n_actions, self.env.n_backward_actions, config.hidden, config.n_layers, config.uniform_pb
        ).to(self.device)
        self.log_z = torch.nn.Parameter(torch.zeros((), device=self.device))
        self.intrinsic = make_intrinsic(config.intrinsic, self.env, config.eta).to(self.device)
        groups = [{"params": list(self.policy.parameters()) + [p for p in self.intrinsic.parameters() if p.requires_grad], "lr": config.lr}]
        if config.objective != "fm":  # FM has no log Z parameter: Z = Σ_a F(s_0 → a)
            groups.append({"params": [self.log_z], "lr": config.lr_logz})
        self.optimizer = torch.optim.Adam(groups)
        self.tracker = make_tracker(self.env)
        self.history = History.for_config(config)
        self.history.config["env"] = describe_env(self.env)
        self.step_count = 0
        self.wall_seconds = 0.0
        self._last_info: dict[str, float] = {}

    # ------------------------------------------------------------------ one step
    def sample(self) -> Trajectories:
        return sample_trajectories(
            self.env, self.policy.forward_logits, self.config.batch_size, self.config.epsilon, self.config.temperature
        )

    def _intrinsic_terms(self, traj: Trajectories, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """``log r`` of every state ``(B, T+1)`` (detached), the intrinsic model's loss, and the mean
        ``r`` over the real states ``s_0 … s_n`` of the batch."""
        batch, horizon = traj.mask.shape
        valid = torch.cat([torch.ones(batch, 1, dtype=torch.bool, device=self.device), traj.mask], dim=1)  # s_0..s_n
        flat_states = traj.states.reshape(batch * (horizon + 1), *traj.states.shape[2:])
        index = self.env.index(flat_states) if self.enumerable else None
        rows = valid.reshape(-1)
        if isinstance(self.intrinsic, RND):
            reward, loss = self.intrinsic.reward_and_loss(obs[rows])
            r_all = torch.zeros(batch * (horizon + 1), device=self.device)
            r_all[rows] = reward
            # padding positions repeat x: give them x's reward (they are masked downstream anyway)
            r_all = r_all.view(batch, horizon + 1)
            r_all = r_all.gather(1, torch.minimum(torch.arange(horizon + 1, device=self.device).unsqueeze(0), traj.lengths.unsqueeze(1)))
        else:
            loss = self.intrinsic.update(obs[rows], None if index is None else index[rows])
            r_all = self.intrinsic.reward(obs, index).view(batch, horizon + 1)
        log_r = torch.log(r_all)  # log 0 = -inf: no bonus
        return log_r, loss, float(r_all[valid].mean())

    def loss(self, traj: Trajectories) -> tuple[torch.Tensor, dict[str, float]]:
        """The objective's loss (with augmentation) plus the intrinsic model's loss."""
        cfg, env = self.config, self.env
        batch, horizon = traj.mask.shape
        flat_states = traj.states.reshape(batch * (horizon + 1), *traj.states.shape[2:])
        obs = env.encode(flat_states)
        logits_pf, logits_pb, log_flow = self.policy(obs)
        fmask = env.forward_mask(flat_states)
        log_r, intrinsic_loss, mean_r = self._intrinsic_terms(traj, obs)
        lengths, mask = traj.lengths, traj.mask
        log_reward = env.log_reward(traj.terminal)
        log_intrinsic = log_r[:, 1:].masked_fill(~mask, NEG_INF)
        log_intrinsic_terminal = log_r.gather(1, lengths.unsqueeze(1)).squeeze(1)
        actions = traj.actions.clamp_min(0).unsqueeze(2)

        if cfg.objective == "fm":
            log_edge = logits_pf.masked_fill(~fmask, NEG_INF).view(batch, horizon + 1, -1)
            state_shape = traj.states.shape[2:]
            children = traj.states[:, 1:].reshape(batch * horizon, *state_shape)  # (BT, *state_shape)
            parents = env.parents(children)
            parents = parents if isinstance(parents, Parents) else Parents(*parents)
            n_par = parents.mask.shape[1]
            parent_logits = self.policy.forward_logits(env.encode(parents.states.reshape(batch * horizon * n_par, *state_shape)))
            parent_logits = parent_logits.view(batch * horizon, n_par, -1)
            # F(p -> s') = the parent's edge flow along the forward action that leads to s'
            into_child = parent_logits.gather(2, parents.actions.clamp_min(0).unsqueeze(2)).squeeze(2)
            log_inflow = into_child.masked_fill(~parents.mask, NEG_INF).view(batch, horizon, n_par)
            last = log_edge.gather(1, lengths.view(-1, 1, 1).expand(-1, 1, log_edge.shape[2])).squeeze(1)
            terms = FlowMatchingTerms(
                log_inflow=log_inflow,
                log_outflow=log_edge[:, 1:],
                log_stop_flow=torch.where(traj.forced, torch.full_like(log_reward, NEG_INF), last[:, env.stop_action]),
                forced=traj.forced,
                log_reward=log_reward,
                mask=mask,
                log_intrinsic=log_intrinsic,
                log_intrinsic_terminal=log_intrinsic_terminal,
            )
            objective_loss = fm_loss(augment(terms, cfg.augment))
        else:
            lp_f = masked_log_softmax(logits_pf, fmask).view(batch, horizon + 1, -1)
            lp_b = masked_log_softmax(logits_pb, env.backward_mask(flat_states)).view(batch, horizon + 1, -1)
            zeros = torch.zeros_like(mask, dtype=lp_f.dtype)
            # the backward action at s_{t+1} that undoes move t (the environment's explicit map)
            state_shape = traj.states.shape[2:]
            back = env.backward_action(
                traj.states[:, :-1].reshape(batch * horizon, *state_shape), traj.actions.clamp_min(0).reshape(-1)
            ).view(batch, horizon, 1)
            log_pf = torch.where(mask, lp_f[:, :-1].gather(2, actions).squeeze(2), zeros)
            log_pb = torch.where(mask, lp_b[:, 1:].gather(2, back.clamp_min(0)).squeeze(2), zeros)
            stop = lp_f.gather(1, lengths.view(-1, 1, 1).expand(-1, 1, lp_f.shape[2])).squeeze(1)[:, env.stop_action]
            terms = TrajectoryTerms(
                log_pf=log_pf,
                log_pb=log_pb,
                log_flow=log_flow.view(batch, horizon + 1),
                log_pf_stop=torch.where(traj.forced, torch.zeros_like(stop), stop),
                log_reward=log_reward,
                mask=mask,
                log_intrinsic=log_intrinsic,
                log_intrinsic_terminal=log_intrinsic_terminal,
            )
            terms = augment(terms, cfg.augment)
            if cfg.objective == "tb":
                objective_loss = tb_loss(terms, self.log_z)
            elif cfg.objective == "db":
                objective_loss = db_loss(terms, self.log_z)
            else:
                objective_loss = subtb_loss(terms, self.log_z, cfg.subtb_lambda)
        total = objective_loss + intrinsic_loss
        info = {
            "loss": float(objective_loss.detach()),
            "intrinsic_loss": float(intrinsic_loss.detach()),
            "mean_intrinsic": mean_r,
            "mean_length": float(lengths.float().mean()),
        }
        return total, info

    def step(self) -> dict[str, float]:
        """One training step (sample → loss → Adam). Returns the step's losses."""
        start = time.perf_counter()
        traj = self.sample()
        total, info = self.loss(traj)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.tracker.record_terminals(traj.terminal)
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_info = info
        return info

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def forward_probabilities(self) -> torch.Tensor | None:
        """``P_F(·|s)`` of the current policy on every state, ``(n_states, n_actions)`` (ε and τ
        included), in the environment's index order; ``None`` if the environment cannot enumerate."""
        if not self.enumerable:
            return None
        states = self.env.all_states()
        logits = self.policy.forward_logits(self.env.encode(states))
        return action_probabilities(logits, self.env.forward_mask(states), self.config.epsilon, self.config.temperature)

    @torch.no_grad()
    def current_log_z(self) -> float:
        if self.config.objective == "fm":
            s0 = self.env.reset(1)
            logits = self.policy.forward_logits(self.env.encode(s0))
            return float(torch.logsumexp(logits.masked_fill(~self.env.forward_mask(s0), NEG_INF), dim=1))
        return float(self.log_z)

    def evaluate(self) -> dict:
        """Metrics of the current state of training (one history row)."""
        row = {"step": self.step_count}
        row.update(self.tracker.row(self.forward_probabilities()))
        row.update(log_z=self.current_log_z(), log_z_true=self.tracker.log_z_true, wall_seconds=self.wall_seconds)
        row.update(self._last_info)
        return row

    def artifacts(self) -> dict[str, np.ndarray]:
        """Final arrays worth keeping next to the metric table (the runner saves them as ``.npz``):
        the exact terminal distribution of the policy, the visit histogram and the target, in the
        environment's state layout (``(H,)*ndim`` on the hypergrid; flat otherwise). Empty for an
        environment that cannot enumerate its states."""
        if not self.enumerable:
            return {}
        return self.tracker.artifacts(self.forward_probabilities())

    # ------------------------------------------------------------------ loop
    def progress_postfix(self, row: dict) -> dict:
        return {"l1": f"{row['l1_mean_exact']:.2e}", "modes": f"{row['modes_found']}/{row['n_modes']}"}

    def describe(self) -> str:
        c = self.config
        where = f"H={c.height}" if hasattr(c, "height") else getattr(self.env, "name", type(self.env).__name__)
        return f"{c.objective}/{c.augment}/{c.intrinsic} {where} seed={c.seed}"

    # ------------------------------------------------------------------ checkpointing
    def _extra_state(self) -> dict:
        return {"log_z": self.log_z.detach().clone()}

    def _load_extra_state(self, state: dict) -> None:
        with torch.no_grad():
            self.log_z.copy_(state["log_z"])


#: The name used before the trainer took any environment (kept: it reads well for the grid).
GridTrainer = GFlowNetTrainer


def train(config: TrainConfig, env=None, progress: bool = True) -> History:
    """Train a (GA)FlowNet (on ``env``, or the environment ``config`` names) and return its :class:`History`."""
    return GFlowNetTrainer(config, env=env).train(progress=progress)


def summary(history: History) -> dict:
    """The final metrics of a run, as the command line prints them."""
    final = dict(history.final)
    final["steps"] = final.pop("step")
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in final.items()}
