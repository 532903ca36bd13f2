"""The environment protocol: exactly what the sampler, the objectives, the trainer and exact
evaluation ask of an environment.

A GFlowNet environment is a DAG of states with one initial state ``s_0``. States are held as a
tensor batch ``(B, *state_shape)`` (any integer or float layout the environment likes); actions are
integers. Forward actions are ``0 … n_actions−1``, one of which, ``stop_action``, ends the episode
at the current state ``x`` (the implicit transition ``x → ⊤``). Backward actions are
``0 … n_backward_actions−1``; each undoes one move into a state.

*Stop at the initial state* is an ordinary stop: it is allowed exactly where
``forward_mask(reset(1))[0, stop_action]`` is True, and then ``s_0`` itself is an object that can
be sampled (a trajectory of zero moves), with reward ``log_reward(s_0)``, counted in the target
distribution and in exact evaluation like any other terminal state (the hypergrid allows it: the
origin is a cell; :class:`gafn_lib.envs.BitSequences` forbids it unless ``min_length=0``). Every
objective handles the zero-move trajectory. To keep an "empty object" out of the distribution,
mask *stop* at ``s_0``. The initial state must allow at least one action (a forced-terminal
``s_0`` is refused by :func:`check_environment`).

Who uses what:

- the sampler (:func:`gafn_lib.core.ensemble.sampling.sample_ensemble` and the table sampler
  beside it): ``reset``, ``forward_mask``,
  ``encode``, ``step_unchecked``, ``stop_action``, ``max_moves``;
- TB / DB / SubTB (through the trainer): ``encode``, ``forward_mask``, ``backward_mask``,
  ``backward_action`` (which backward logit scores the move ``s_t → s_{t+1}``), ``log_reward``;
- FM: ``parents`` (every parent of a state and the forward action that leads from it);
- intrinsic rewards: ``encode`` (RND), ``index`` / ``n_states`` (counts);
- exact evaluation (:mod:`gafn_lib.core.exact`) and the metrics tracker, for *enumerable*
  environments (:class:`EnumerableEnvironment`): ``n_states``, ``all_states``, ``index``,
  ``log_reward`` and optionally ``reward`` / ``mode_indices``.

Optional: ``same_state(a, b)`` → ``(B,)`` bool, for an environment that holds one object as
several distinct state tensors (the molecule MDP: the same labelled molecule built in another block
order gets another id). :func:`check_environment` then accepts a listed parent whose step gives a
state ``same_state`` equates with the child; every other environment is compared tensor for tensor.

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
        (forced terminal) has an all-False row; it is never stepped. Where *stop* is allowed the
        state can be an object, the initial state included (see the module docstring)."""
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
        """Every parent of each state and the forward action from it (used by flow matching), and
        only parents: each listed ``(parent, action)`` (``mask`` True) must satisfy
        ``forward_mask(parent)[action]`` and ``step_unchecked(parent, action) == state``; pad the
        rest with ``mask = False``."""
        ...

    def encode(self, states: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` float features the networks read."""
        ...

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        """``(B,)`` float ``log R(x)``. The objectives read it at terminal states, but it is
        evaluated on other states too (the checker, exact evaluation): it must be finite or
        ``-inf`` (``R = 0``) on *every* state, never NaN or ``+inf`` (add a floor inside the log)."""
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


#: An enumerable environment with at most this many states is checked on *every* state
#: (``log_reward`` and ``parents``), not only on the probe walks (a few milliseconds at 4096 states).
FULL_CHECK_MAX_STATES = 4096


def check_environment(env, n_probe: int = 4) -> None:
    """Check that ``env`` implements the protocol, on ``n_probe`` short random walks from ``reset``.

    Raises :class:`ProtocolError` (a :class:`ValueError`) naming the attribute or method at fault,
    what was expected and, for a faulty value, the state where it occurred:

    - missing members, wrong shapes or dtypes of masks, encodings and log-rewards, an initial
      state with no allowed action, a ``backward_action`` that is masked at the child;
    - ``parents(child)`` that does not list the parent and forward action a walk came from, or
      that lists a *non*-parent: for every listed parent (``mask`` True), the action must be a
      move allowed by ``forward_mask(parent)`` and ``step_unchecked(parent, action)`` must give
      ``child`` (equal tensors, or equal under the environment's optional ``same_state``);
    - a ``log_reward`` that is NaN or ``+inf`` on any state the walks pass through, terminal or
      not (finite values and ``-inf``, i.e. ``R = 0``, are allowed).

    The walks take random moves (never *stop*) until every walk reaches a forced-terminal state or
    ``max_moves`` moves; each step costs one vectorised call of each method on ``n_probe`` states.
    An enumerable environment (:func:`is_enumerable`) with at most :data:`FULL_CHECK_MAX_STATES`
    states is also checked on every state of ``all_states()`` (``log_reward`` and ``parents``), so
    a fault the walks do not happen to meet is refused there too.
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
    seen, depth = [states], [0]  # every state the walks pass through, and after how many moves
    for t in range(1, env.max_moves + 2):
        _check_state_outputs(env, name, states)
        fmask = env.forward_mask(states)
        if t == 1 and not bool(fmask[0].any()):
            raise ProtocolError(
                f"environment {name}: forward_mask allows no action at the initial state {_show(states[0])} "
                "(it must allow a move, or stop if the initial state is itself an object)"
            )
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
        par = _parents(env, name, after)
        expanded = before.unsqueeze(1).expand_as(par.states)
        same = (par.states == expanded).reshape(*par.mask.shape, -1).all(dim=-1) & par.mask
        came_by = same & (par.actions == actions.unsqueeze(1))
        missed = ~came_by.any(dim=1)
        if bool(missed.any()):
            i = int(missed.nonzero()[0, 0])
            raise ProtocolError(
                f"environment {name}: parents(child) must list the parent and forward action a step came from: child state "
                f"{_show(after[i])} came from parent {_show(before[i])} by action {int(actions[i])}, a pair parents(child) does not list"
            )
        _check_listed_parents(env, name, after, par)
        states = states.clone()
        states[live] = after
        seen.append(after)
        depth.append(t)
        done = done | ~live
    walked = torch.cat(seen)
    moves_made = torch.cat([torch.full((s.shape[0],), d) for s, d in zip(seen, depth)])
    _check_log_rewards(env, name, walked, lambda i: f"a state the probe walk reached after {int(moves_made[i])} moves")
    if is_enumerable(env) and isinstance(env.n_states, int) and env.n_states <= FULL_CHECK_MAX_STATES:
        every = env.all_states()
        where = f"checked on every state: n_states = {env.n_states} <= FULL_CHECK_MAX_STATES"
        _check_log_rewards(env, name, every, lambda i: f"state index {i} of all_states(), {where}")
        _check_listed_parents(env, name, every, _parents(env, name, every))


def _show(state: torch.Tensor) -> str:
    """A state for an error message (its values, as a nested list)."""
    return str(state.tolist())


def _parents(env, name: str, children: torch.Tensor) -> Parents:
    """``env.parents(children)`` as :class:`Parents`, its layout checked."""
    par = env.parents(children)
    if not isinstance(par, Parents):
        par = Parents(*par)
    n = children.shape[0]
    if par.mask.dtype != torch.bool or par.mask.dim() != 2 or par.mask.shape[0] != n:
        raise ProtocolError(f"environment {name}: parents(...).mask must be bool of shape ({n}, P), got {par.mask.dtype} {tuple(par.mask.shape)}")
    if par.actions.shape != par.mask.shape or tuple(par.states.shape) != (*par.mask.shape, *children.shape[1:]):
        raise ProtocolError(
            f"environment {name}: parents(...) must give states (B, P, *state_shape) and actions (B, P) matching the mask "
            f"{tuple(par.mask.shape)}, got states {tuple(par.states.shape)} and actions {tuple(par.actions.shape)}"
        )
    return par


def _check_listed_parents(env, name: str, children: torch.Tensor, par: Parents) -> None:
    """Every listed parent (``par.mask`` True) of ``children[b]`` leads to it: its action is a move
    that ``forward_mask(parent)`` allows and ``step_unchecked(parent, action) == child``. One
    vectorised call of ``forward_mask`` and of ``step_unchecked`` on all listed parents."""
    rows, cols = par.mask.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return
    parents = par.states[rows, cols]
    actions = par.actions[rows, cols].long()
    kids = children[rows]

    def fault(i: int, what: str) -> ProtocolError:
        return ProtocolError(
            f"environment {name}: parents(child) lists a parent that does not lead to the child: child state "
            f"{_show(kids[i])}, listed parent {_show(parents[i])} (column {int(cols[i])}), action {int(actions[i])}: {what} "
            "(parents must list only states s with step(s, action) == child, action allowed by forward_mask(s); "
            "pad with mask = False)"
        )

    is_move = (actions >= 0) & (actions < env.n_actions) & (actions != env.stop_action)
    if not bool(is_move.all()):
        raise fault(int((~is_move).nonzero()[0, 0]), f"the action is not a move (moves are 0..{env.n_actions - 1} except stop = {env.stop_action})")
    try:
        allowed = env.forward_mask(parents).gather(1, actions.unsqueeze(1)).squeeze(1)
    except Exception as error:  # the user's code on the states their parents() listed
        raise ProtocolError(f"environment {name}: forward_mask failed on the parents listed by parents(...): {error}") from error
    if not bool(allowed.all()):
        raise fault(int((~allowed).nonzero()[0, 0]), "forward_mask(parent) forbids that action")
    try:
        reached, _ = env.step_unchecked(parents, actions)
    except Exception as error:
        raise ProtocolError(f"environment {name}: step_unchecked failed on the parents listed by parents(...): {error}") from error
    same = (reached == kids).reshape(kids.shape[0], -1).all(dim=1)
    same_state = getattr(env, "same_state", None)
    if not bool(same.all()) and callable(same_state):  # one object held as several states (see the protocol)
        differ = (~same).nonzero(as_tuple=True)[0]
        same = same.clone()
        same[differ] = torch.as_tensor(same_state(reached[differ], kids[differ]), dtype=torch.bool, device=same.device)
    if not bool(same.all()):
        i = int((~same).nonzero()[0, 0])
        raise fault(i, f"step_unchecked(parent, action) gives {_show(reached[i])}")


def _check_log_rewards(env, name: str, states: torch.Tensor, where) -> None:
    """``log_reward(states)`` has shape ``(B,)``, a float dtype, and no NaN or ``+inf``; ``where(i)``
    says which state row ``i`` is."""
    n = states.shape[0]
    log_r = env.log_reward(states)
    if not isinstance(log_r, torch.Tensor) or log_r.shape != (n,) or not log_r.dtype.is_floating_point:
        got = f"{log_r.dtype} {tuple(log_r.shape)}" if isinstance(log_r, torch.Tensor) else type(log_r).__name__
        raise ProtocolError(f"environment {name}: log_reward must return a float tensor of shape ({n},), got {got}")
    bad = torch.isnan(log_r) | (log_r == float("inf"))
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ProtocolError(
            f"environment {name}: log_reward returned {float(log_r[i])} (NaN or +inf) at state {_show(states[i])} "
            f"({where(i)}); log_reward must be finite or -inf on every state, terminal or not "
            "(rewards must be >= 0 and finite; add a floor inside the log): wherever a trajectory can end there, the loss becomes NaN"
        )


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
