"""The environment protocol: exactly what the sampler, the objectives, the trainer and exact
evaluation ask of an environment.

A GFlowNet environment is a DAG of states with one initial state ``s_0``. States are held as a
tensor batch ``(B, *state_shape)`` (any integer or float layout the environment likes); actions are
integers. Forward actions are ``0 … n_actions−1``, one of which, ``stop_action``, ends the episode
at the current state ``x`` (the implicit transition ``x → ⊤``). Backward actions are
``0 … n_backward_actions−1``; each undoes one move into a state.

Who uses what:

- the sampler (:func:`gafn_lib.core.sampling.sample_trajectories`): ``reset``, ``forward_mask``,
  ``encode``, ``step_unchecked``, ``stop_action``, ``max_moves``;
- TB / DB / SubTB (through the trainer): ``encode``, ``forward_mask``, ``backward_mask``,
  ``backward_action`` (which backward logit scores the move ``s_t → s_{t+1}``), ``log_reward``;
- FM: ``parents`` (every parent of a state and the forward action that leads from it);
- intrinsic rewards: ``encode`` (RND), ``index`` / ``n_states`` (counts);
- exact evaluation (:mod:`gafn_lib.core.exact`) and the metrics tracker, for *enumerable*
  environments (:class:`EnumerableEnvironment`): ``n_states``, ``all_states``, ``index``,
  ``log_reward`` and optionally ``reward`` / ``mode_indices``.

A new environment implements these attributes and methods (no base class needed). Three ship with
the library: the hypergrid :class:`gafn_lib.envs.Hypergrid`, the bit strings
:class:`gafn_lib.envs.BitSequences`, and the fragment-based molecule MDP
:class:`gafn_lib.envs.fragment_env.FragmentEnvironment` (states are ids of interned molecules; not
enumerable). :func:`check_environment` checks an environment; the trainer calls it before any
compute.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import torch


class Parents(NamedTuple):
    """Every parent of each of ``B`` states, padded to ``P`` (the most any state has).

    Attributes:
        states: ``(B, P, *state_shape)`` parent states (rows with ``mask == False`` are placeholders).
        actions: ``(B, P)`` the forward action that leads from ``states[b, p]`` to state ``b``.
        mask: ``(B, P)`` bool, True for real parents.
    """

    states: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor


@runtime_checkable
class Environment(Protocol):
    """A GFlowNet environment with tensor states (see the module docstring for who uses what).

    Attributes:
        name: a short name recorded in a run's history (e.g. ``"hypergrid"``).
        n_actions: number of forward actions, *stop* included.
        stop_action: the index of *stop* among the forward actions.
        n_backward_actions: number of backward actions.
        max_moves: the longest possible number of moves (non-stop actions) of one trajectory.
        obs_dim: size of :meth:`encode`'s output.
        device: where the environment's tensors live.
    """

    name: str
    n_actions: int
    stop_action: int
    n_backward_actions: int
    max_moves: int
    obs_dim: int
    device: torch.device

    def reset(self, batch_size: int) -> torch.Tensor:
        """``batch_size`` copies of the initial state, ``(B, *state_shape)``."""
        ...

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """``(B, n_actions)`` bool: the allowed forward actions. A state where the episode must end
        (forced terminal) has an all-False row; it is never stepped."""
        ...

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """``(B, n_backward_actions)`` bool: the backward actions that lead to a valid parent."""
        ...

    def step_unchecked(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one allowed action per state: ``(next_states, done)``. ``done`` is True after
        *stop* (the state is returned unchanged) or when the new state is forced terminal."""
        ...

    def backward_action(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``(B,)`` the backward action at ``step(states, actions)`` that leads back to ``states``
        (``actions`` are moves, never *stop*). This is the explicit map between forward moves and
        backward actions: ``P_B(s_t | s_{t+1})`` is read at this index."""
        ...

    def parents(self, states: torch.Tensor) -> Parents:
        """Every parent of each state and the forward action from it (used by flow matching)."""
        ...

    def encode(self, states: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` float features the networks read."""
        ...

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        """``(B,)`` ``log R(x)`` of terminal states (finite: add a floor inside the log)."""
        ...


@runtime_checkable
class EnumerableEnvironment(Environment, Protocol):
    """An environment small enough to list every state: enables exact evaluation by dynamic
    programming (:func:`gafn_lib.core.exact.exact_terminal_distribution`) and count bonuses.

    Attributes:
        n_states: number of states (every state, terminal or not).
    """

    n_states: int

    def index(self, states: torch.Tensor) -> torch.Tensor:
        """``(B,)`` long: each state's position in :meth:`all_states`."""
        ...

    def all_states(self) -> torch.Tensor:
        """Every state, ``(n_states, *state_shape)``, in :meth:`index` order."""
        ...


def is_enumerable(env) -> bool:
    """Whether ``env`` lists its states (has ``n_states``, ``index`` and ``all_states``)."""
    return all(hasattr(env, name) for name in ("n_states", "index", "all_states"))


REQUIRED_ATTRIBUTES = ("name", "n_actions", "stop_action", "n_backward_actions", "max_moves", "obs_dim", "device")
REQUIRED_METHODS = (
    "reset",
    "forward_mask",
    "backward_mask",
    "step_unchecked",
    "backward_action",
    "parents",
    "encode",
    "log_reward",
)


class ProtocolError(ValueError):
    """An environment that breaks the protocol (raised before any training compute)."""


def check_environment(env, n_probe: int = 4) -> None:
    """Check that ``env`` implements the protocol, on a short random walk of ``n_probe`` states.

    Raises :class:`ValueError` naming the attribute or method at fault and what was expected:
    missing members, wrong shapes or dtypes of masks, encodings and log-rewards, a non-stop action
    allowed nowhere, a ``backward_action`` that is masked at the child, a parent list that does
    not contain the state the walk came from, NaN or ``+inf`` log-rewards.
    """
    name = type(env).__name__
    missing = [a for a in REQUIRED_ATTRIBUTES + REQUIRED_METHODS if not hasattr(env, a)]
    if missing:
        raise ProtocolError(f"environment {name} is missing {', '.join(missing)} (see gafn_lib.core.env.Environment)")
    for attr in ("n_actions", "n_backward_actions", "max_moves", "obs_dim"):
        value = getattr(env, attr)
        if not isinstance(value, int) or value < 1:
            raise ProtocolError(f"environment {name}: {attr} must be an integer >= 1, got {value!r}")
    if not isinstance(env.stop_action, int) or not 0 <= env.stop_action < env.n_actions:
        raise ProtocolError(f"environment {name}: stop_action must be in [0, n_actions={env.n_actions}), got {env.stop_action!r}")

    states = env.reset(n_probe)
    if not isinstance(states, torch.Tensor) or states.shape[0] != n_probe:
        raise ProtocolError(f"environment {name}: reset({n_probe}) must return a tensor with {n_probe} rows")
    gen = torch.Generator().manual_seed(0)
    done = torch.zeros(n_probe, dtype=torch.bool, device=states.device)
    for _ in range(env.max_moves + 1):
        _check_state_outputs(env, name, states)
        fmask = env.forward_mask(states)
        moves = fmask.clone()
        moves[:, env.stop_action] = False
        live = ~done & moves.any(dim=1)
        if not bool(live.any()):
            break
        probs = moves[live].float().cpu()
        actions = torch.multinomial(probs, 1, generator=gen).squeeze(1).to(states.device)
        before = states[live]
        after, _ = env.step_unchecked(before, actions)
        back = env.backward_action(before, actions)
        if back.shape != (before.shape[0],):
            raise ProtocolError(f"environment {name}: backward_action must return shape ({before.shape[0]},), got {tuple(back.shape)}")
        in_range = bool(((back >= 0) & (back < env.n_backward_actions)).all())
        if not in_range or not bool(env.backward_mask(after).gather(1, back.long().unsqueeze(1)).all()):
            raise ProtocolError(f"environment {name}: backward_action points to a backward action that backward_mask forbids at the child")
        par = env.parents(after)
        if not isinstance(par, Parents):
            par = Parents(*par)
        expanded = before.unsqueeze(1).expand_as(par.states)
        same = (par.states == expanded).reshape(*par.mask.shape, -1).all(dim=-1) & par.mask
        came_by = same & (par.actions == actions.unsqueeze(1))
        if not bool(came_by.any(dim=1).all()):
            raise ProtocolError(f"environment {name}: parents(child) must list the parent and forward action a step came from")
        states = states.clone()
        states[live] = after
        done = done | ~live
    terminal_log_r = env.log_reward(states)
    if terminal_log_r.shape != (n_probe,):
        raise ProtocolError(f"environment {name}: log_reward must return shape ({n_probe},), got {tuple(terminal_log_r.shape)}")
    if bool(torch.isnan(terminal_log_r).any()) or bool((terminal_log_r == float("inf")).any()):
        raise ProtocolError(f"environment {name}: log_reward returned NaN or +inf (rewards must be >= 0 and finite; add a floor inside the log)")


def _check_state_outputs(env, name: str, states: torch.Tensor) -> None:
    n = states.shape[0]
    fmask = env.forward_mask(states)
    if fmask.dtype != torch.bool or fmask.shape != (n, env.n_actions):
        raise ProtocolError(f"environment {name}: forward_mask must be bool of shape ({n}, n_actions={env.n_actions}), got {fmask.dtype} {tuple(fmask.shape)}")
    bmask = env.backward_mask(states)
    if bmask.dtype != torch.bool or bmask.shape != (n, env.n_backward_actions):
        raise ProtocolError(
            f"environment {name}: backward_mask must be bool of shape ({n}, n_backward_actions={env.n_backward_actions}), got {bmask.dtype} {tuple(bmask.shape)}"
        )
    obs = env.encode(states)
    if not obs.dtype.is_floating_point or obs.shape != (n, env.obs_dim):
        raise ProtocolError(f"environment {name}: encode must return a float tensor of shape ({n}, obs_dim={env.obs_dim}), got {obs.dtype} {tuple(obs.shape)}")
