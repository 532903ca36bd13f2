"""Metropolis–Hastings random walk over the hypergrid's terminal states (paper §3, MCMC baseline).

The chain lives on the *reachable* cells ``X`` (under the edge rule, cells with two or more
coordinates at ``H−1`` can never be terminal states and are excluded). Its target is

    π(x) ∝ R̃(x) = R(x) + floor,        x ∈ X.

One step from ``x``:

1. proposal: pick a coordinate ``d`` and a sign ``σ ∈ {−1, +1}`` uniformly, ``x′ = x + σ e_d``;
   ``q(x → x′) = 1/(2·ndim)`` for each of the ``2·ndim`` directions, so ``q`` is symmetric;
2. a proposal outside the grid or onto an unreachable cell is rejected (the chain stays), which
   keeps the kernel symmetric;
3. otherwise accept with probability ``α(x → x′) = min(1, R̃(x′) / R̃(x))``.

The kernel ``K(x, x′) = q(x → x′) α(x → x′)`` (``x′ ≠ x``) satisfies detailed balance,
``R̃(x) K(x, x′) = q · min(R̃(x), R̃(x′)) = R̃(x′) K(x′, x)``, so π is stationary; with
``R̃ > 0`` on ``X`` and ``X`` connected by ±1 moves, the chain is irreducible (and aperiodic:
boundary proposals give self-loops), so it converges to π.

**The floor.** With the sparse reward, ``R = 0`` almost everywhere: without a floor the chain
(which starts at the origin, ``R = 0``) has ``0/0`` ratios and cannot leave a goal once there. The
default floor is ``1e-3 · max_x R(x)`` (relative, so the chain does not depend on the reward's
scale) when some reachable cell has ``R = 0``, and ``0`` for the dense reward with ``r0 > 0``
(already positive everywhere: no bias needed). The floor trades mixing for bias: a chain sitting on
an isolated sparse goal leaves it after ``≈ 1/(1e-3) = 1000`` steps on average (about 20 escapes
in the paper's 20 000-step budget), while the stationary law π puts mass on the zero-reward cells:
its distance to the target ``p ∝ R`` is logged as ``l1_sum_stationary`` (2-D sparse, edge rule:
0.039 at H = 8, 1.15 at H = 64). A smaller floor lowers that bias and slows mixing in proportion.

Budget: ``n_chains`` chains (default 16) run in parallel; each step, every chain's state —
accepted or kept — counts as one visited terminal state, the analogue of 16 sampled trajectories
per GFlowNet step. There is no policy, so the exact-policy metrics are NaN.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import torch

from gafn_lib.grid.config import GridFields
from gafn_lib.envs.hypergrid import Hypergrid
from gafn_lib.core.history import History
from gafn_lib.core.loop import Trainer
from gafn_lib.core.metrics import l1_sum
from gafn_lib.core.runtime import configure_threads, resolve_device, seed_everything
from gafn_lib.core.tracking import MetricsTracker
from gafn_lib.core.validation import check_counts, check_positive, check_threads

#: Default relative floor (× max R) when the reward is zero on some reachable cell.
DEFAULT_RELATIVE_FLOOR = 1e-3


@dataclass(frozen=True)
class MCMCConfig(GridFields):
    """Metropolis–Hastings baseline on the hypergrid.

    Attributes:
        ndim, height, reward, termination, r0, r1, r2: the grid (see :class:`gafn_lib.grid.config.GridFields`).
        n_chains: parallel chains K = terminal states visited per step (16, as the GFlowNet's batch).
        reward_floor: relative floor ρ ≥ 0; the chain targets ``R + ρ · max R``. ``None``: 1e-3 if
            the reward is zero somewhere (sparse; dense with r0 = 0), else 0 (dense, r0 > 0).
        n_steps: MCMC steps (20 000). log_every: metrics every this many steps (and at the end).
        seed, device, threads: as :class:`gafn_lib.grid.config.GridTrainConfig`.
    """

    n_chains: int = 16
    reward_floor: float | None = None
    n_steps: int = 20_000
    log_every: int = 100
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        check_counts(self, ("n_chains", "n_steps", "log_every"))
        if self.reward_floor is None:
            positive_everywhere = self.reward == "dense" and self.r0 > 0
            object.__setattr__(self, "reward_floor", 0.0 if positive_everywhere else DEFAULT_RELATIVE_FLOOR)
        check_positive("reward_floor", self.reward_floor, strict=False)
        check_threads(self.threads)
        self.grid_config()

    @property
    def batch_size(self) -> int:
        """Terminal states visited per step (= ``n_chains``), for budget comparisons."""
        return self.n_chains


    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


# ---------------------------------------------------------------------- the kernel
def floored_reward_table(env: Hypergrid, floor: float) -> torch.Tensor:
    """``R̃(x) = R(x) + floor`` on every cell, ``(H^ndim,)`` float64, 0 on unreachable cells.

    Raises ``ValueError`` if ``R̃`` is not positive on every reachable cell (the chain would not be
    irreducible and ``0/0`` ratios would appear).
    """
    if floor < 0:
        raise ValueError(f"reward_floor must be >= 0, got {floor}")
    reachable = env.terminal_mask()
    table = (env.reward(env.all_states()).double() + floor) * reachable
    if bool((table[reachable] <= 0).any()):
        raise ValueError(
            "reward_floor must be > 0 for this reward: R = 0 on some reachable cell "
            f"(got floor {floor})"
        )
    return table


def metropolis_hastings_step(
    env: Hypergrid, states: torch.Tensor, reward_table: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MH step of every chain, vectorised. ``states (K, ndim)`` → ``(next_states, accepted (K,))``.

    ``reward_table`` is :func:`floored_reward_table` (0 on unreachable cells, so proposals there are
    never accepted). Draws, in this order: coordinate ``(K,)``, sign ``(K,)``, uniform ``u (K,)``;
    accepts iff ``u · R̃(x) < R̃(x′)``, i.e. with probability ``min(1, R̃(x′)/R̃(x))``.
    """
    n_chains = states.shape[0]
    rows = torch.arange(n_chains, device=states.device)
    coord = torch.randint(env.ndim, (n_chains,), device=states.device)
    sign = torch.randint(2, (n_chains,), device=states.device) * 2 - 1
    u = torch.rand(n_chains, dtype=torch.float64, device=states.device)

    proposal = states.clone()
    proposal[rows, coord] += sign
    inside = (proposal >= 0).all(dim=1) & (proposal < env.height).all(dim=1)
    r_new = reward_table[env.index(proposal.clamp(0, env.height - 1))] * inside  # 0 = reject
    r_old = reward_table[env.index(states)]
    accepted = u * r_old < r_new
    next_states = torch.where(accepted.unsqueeze(1), proposal, states)
    return next_states, accepted


def mcmc_transition_matrix(env: Hypergrid, floor: float) -> torch.Tensor:
    """The dense MH kernel ``K (N, N)``, ``N = H^ndim``, float64 (for small grids and tests).

    ``K[i, j] = min(1, R̃_j / R̃_i) / (2·ndim)`` for reachable neighbours ``j = i ± e_d``,
    ``K[i, i] = 1 − Σ_{j≠i} K[i, j]``; rows of unreachable cells are the identity (never visited).
    ``floor`` is the *absolute* floor (``MCMCConfig.reward_floor · max R``).
    """
    table = floored_reward_table(env, floor)
    states = env.all_states()
    n = env.n_states
    src = env.index(states)
    reachable = env.terminal_mask()
    kernel = torch.zeros(n, n, dtype=torch.float64, device=states.device)
    q = 1.0 / (2 * env.ndim)
    for d in range(env.ndim):
        for sign in (-1, 1):
            proposal = states.clone()
            proposal[:, d] += sign
            inside = (proposal[:, d] >= 0) & (proposal[:, d] < env.height)
            dst = env.index(proposal.clamp(0, env.height - 1))
            ok = inside & reachable & (table[dst] > 0)
            alpha = torch.clamp(table[dst[ok]] / table[src[ok]], max=1.0)
            kernel.index_put_((src[ok], dst[ok]), q * alpha, accumulate=True)
    kernel += torch.diag(1.0 - kernel.sum(dim=1))
    return kernel


# ---------------------------------------------------------------------- trainer
class MCMCTrainer(Trainer):
    """K Metropolis–Hastings chains on the hypergrid, with the GridTrainer protocol.

    Example:
        >>> trainer = MCMCTrainer(MCMCConfig(height=8, n_steps=500))
        >>> trainer.train().final["modes_found"]
    """

    _components = ("tracker",)

    def __init__(self, config: MCMCConfig):
        self.config = config
        configure_threads(config.threads)
        seed_everything(config.seed)
        self.device = resolve_device(config.device)
        self.env = Hypergrid(config.grid_config(), device=self.device)
        max_reward = float(self.env.reward(self.env.all_states()[self.env.terminal_mask()]).max())
        self.floor = config.reward_floor * max_reward  # absolute floor
        self.reward_table = floored_reward_table(self.env, self.floor)
        self.tracker = MetricsTracker(self.env)
        self.l1_sum_stationary = l1_sum(self.stationary_distribution(), self.tracker.p_true)
        self.history = History.for_config(config)
        self.chains = self.env.reset(config.n_chains)  # (K, ndim): every chain starts at the origin
        self.step_count = 0
        self.wall_seconds = 0.0
        self._window = {"accepted": 0, "proposed": 0}  # since the last logged row
        self._last_info: dict[str, float] = {}

    def stationary_distribution(self) -> torch.Tensor:
        """``π ∝ R̃`` on reachable cells, ``(H^ndim,)`` float64 — where a mixed chain samples."""
        return self.reward_table / self.reward_table.sum()

    def step(self) -> dict[str, float]:
        """One MH step of every chain; each chain's new state is recorded as a visited terminal."""
        start = time.perf_counter()
        self.chains, accepted = metropolis_hastings_step(self.env, self.chains, self.reward_table)
        self.tracker.record_terminals(self.chains)
        n_accepted = int(accepted.sum())
        self._window["accepted"] += n_accepted
        self._window["proposed"] += self.config.n_chains
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_info = {
            "step_acceptance": n_accepted / self.config.n_chains,
            "mean_reward": float(self.env.reward(self.chains).mean()),
        }
        return self._last_info

    def evaluate(self) -> dict:
        """One history row: the shared grid metrics (exact-policy columns NaN) + MH diagnostics."""
        row = {"step": self.step_count}
        row.update(self.tracker.row(None))
        window = self._window
        row.update(
            wall_seconds=self.wall_seconds,
            acceptance_rate=window["accepted"] / window["proposed"] if window["proposed"] else float("nan"),
            l1_sum_stationary=self.l1_sum_stationary,
            reward_floor=self.floor,
        )
        row.update(self._last_info)
        self._window = {"accepted": 0, "proposed": 0}
        return row

    def progress_postfix(self, row: dict) -> dict:
        return {"l1": f"{row['l1_mean_visited']:.2e}", "modes": f"{row['modes_found']}/{row['n_modes']}"}

    def describe(self) -> str:
        c = self.config
        return f"mcmc K={c.n_chains} H={c.height} seed={c.seed}"

    # ------------------------------------------------------------------ checkpointing
    def _extra_state(self) -> dict:
        return {"chains": self.chains.clone(), "window": dict(self._window)}

    def _load_extra_state(self, state: dict) -> None:
        self.chains = state["chains"].to(self.device).clone()
        self._window = {k: int(v) for k, v in state["window"].items()}
