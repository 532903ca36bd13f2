"""Exact evaluation on any enumerable environment, by dynamic programming over its DAG.

Everything here needs only the protocol (:mod:`gafn_lib.core.env`): ``all_states``, ``index``,
``forward_mask``, ``backward_mask``, ``step_unchecked``, ``backward_action``, ``stop_action`` and
``log_reward`` (or ``reward``). :func:`state_graph` lists the DAG's edges once; then

- :func:`exact_terminal_distribution` — the terminal distribution ``P_T`` of a forward policy:
  ``P(s_0) = 1``, ``P(s') = Σ_{s ∈ Par(s')} P(s) P_F(s'|s)`` in topological order, and
  ``P_T(x) = P(x) P_F(stop|x)`` (``P(x)`` for a forced-terminal ``x``);
- :func:`target_distribution` — ``p(x) = R(x) / Σ_x' R(x')`` over reachable terminal states;
- :func:`exact_flows` — flows consistent with the target (and, for a fixed intrinsic reward,
  with the *augmented* target of :mod:`gafn_lib.core.augment`) for ``P_B`` uniform over parents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gafn_lib.core.env import is_enumerable

#: Largest number of states exact evaluation agrees to enumerate.
MAX_EXACT_STATES = 2**22


@dataclass(frozen=True)
class StateGraph:
    """The DAG of an enumerable environment (indices are the environment's ``index`` order).

    Attributes:
        states: ``(N, *state_shape)`` every state.
        src, action, dst: ``(E,)`` each move ``src --action--> dst``.
        back: ``(E,)`` the backward action at ``dst`` that undoes the move.
        forward_mask: ``(N, A)``; backward_mask: ``(N, A_B)``.
        forced: ``(N,)`` states with no allowed action (the episode ends there).
        reachable: ``(N,)`` reachable from the initial state.
        depth: ``(N,)`` longest number of moves from the initial state (−1 if unreachable): a
            topological order.
        initial: index of the initial state. stop_action: the environment's stop action.
    """

    states: torch.Tensor
    src: torch.Tensor
    action: torch.Tensor
    dst: torch.Tensor
    back: torch.Tensor
    forward_mask: torch.Tensor
    backward_mask: torch.Tensor
    forced: torch.Tensor
    reachable: torch.Tensor
    depth: torch.Tensor
    initial: int
    stop_action: int

    @property
    def n_states(self) -> int:
        return self.states.shape[0]

    @property
    def terminable(self) -> torch.Tensor:
        """``(N,)`` reachable states where a trajectory can end (by stop, or forced)."""
        return self.reachable & (self.forced | self.forward_mask[:, self.stop_action])


def state_graph(env) -> StateGraph:
    """List the DAG of ``env`` (cached on the environment object as ``_gafn_state_graph``)."""
    cached = getattr(env, "_gafn_state_graph", None)
    if cached is not None:
        return cached
    if not is_enumerable(env):
        raise ValueError(f"exact evaluation needs an enumerable environment (n_states, index, all_states); {type(env).__name__} is not")
    if env.n_states > MAX_EXACT_STATES:
        raise ValueError(f"{type(env).__name__} has {env.n_states} states, more than MAX_EXACT_STATES = {MAX_EXACT_STATES}")
    states = env.all_states()
    n = states.shape[0]
    fmask = env.forward_mask(states)
    srcs, acts, dsts, backs = [], [], [], []
    for a in range(env.n_actions):
        if a == env.stop_action:
            continue
        rows = fmask[:, a].nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            continue
        actions = torch.full((rows.numel(),), a, dtype=torch.long, device=states.device)
        children, _ = env.step_unchecked(states[rows], actions)
        srcs.append(rows)
        acts.append(actions)
        dsts.append(env.index(children).long())
        backs.append(env.backward_action(states[rows], actions).long())
    cat = lambda xs: torch.cat(xs) if xs else torch.zeros(0, dtype=torch.long, device=states.device)  # noqa: E731
    src, action, dst, back = cat(srcs), cat(acts), cat(dsts), cat(backs)
    initial = int(env.index(env.reset(1))[0])
    depth = torch.full((n,), -1, dtype=torch.long, device=states.device)
    depth[initial] = 0
    for _ in range(env.max_moves + 1):  # longest-path relaxation: exact after max_moves sweeps on a DAG
        live = depth[src] >= 0
        new = depth.scatter_reduce(0, dst[live], depth[src[live]] + 1, reduce="amax")
        if torch.equal(new, depth):
            break
        depth = new
    graph = StateGraph(
        states=states, src=src, action=action, dst=dst, back=back, forward_mask=fmask,
        backward_mask=env.backward_mask(states), forced=~fmask.any(dim=1), reachable=depth >= 0,
        depth=depth, initial=initial, stop_action=env.stop_action,
    )
    try:
        env._gafn_state_graph = graph
    except AttributeError:  # an environment with __slots__: no cache
        pass
    return graph


def _levels(graph: StateGraph):
    """Edge ids grouped by the depth of their source, in increasing depth (reachable sources only)."""
    d = graph.depth[graph.src]
    keep = d >= 0
    order = torch.argsort(d[keep], stable=True)
    edge_ids = keep.nonzero(as_tuple=True)[0][order]
    counts = torch.bincount(d[keep]).tolist() if edge_ids.numel() else []
    start = 0
    for count in counts:
        yield edge_ids[start : start + count]
        start += count


def exact_terminal_distribution_generic(env, forward_probs: torch.Tensor) -> torch.Tensor:
    """:func:`exact_terminal_distribution` by the generic DP over :func:`state_graph` (any environment)."""
    graph = state_graph(env)
    n, n_actions = graph.forward_mask.shape
    if forward_probs.shape != (n, n_actions):
        raise ValueError(f"forward_probs must have shape (n_states, n_actions) = ({n}, {n_actions}), got {tuple(forward_probs.shape)}")
    pf = forward_probs.detach().double().to(graph.states.device) * graph.forward_mask
    reach = torch.zeros(n, dtype=torch.float64, device=graph.states.device)
    reach[graph.initial] = 1.0
    for edges in _levels(graph):
        src = graph.src[edges]
        reach.index_add_(0, graph.dst[edges], reach[src] * pf[src, graph.action[edges]])
    return torch.where(graph.forced, reach, reach * pf[:, graph.stop_action])


def exact_terminal_distribution(env, forward_probs: torch.Tensor) -> torch.Tensor:
    """Exact terminal distribution ``P_T`` of a forward policy, float64, summing to 1.

    ``forward_probs`` is ``(n_states, n_actions)``: row ``i`` holds ``P_F(·|s_i)`` (masked actions
    carry no mass; rows of forced-terminal or unreachable states are ignored). Recursion in
    topological order: ``P(s_0) = 1``, ``P(s') = Σ_{s ∈ Par(s')} P(s) P_F(s'|s)``;
    ``P_T(x) = P(x) P_F(stop|x)``, or ``P(x)`` where termination is forced.

    Uses the environment's own ``exact_terminal_distribution`` where it has one (the hypergrid's
    level-by-level fast path, tested equal to :func:`exact_terminal_distribution_generic`).
    """
    fast = getattr(env, "exact_terminal_distribution", None)
    if callable(fast):
        return fast(forward_probs)
    return exact_terminal_distribution_generic(env, forward_probs)


def terminal_rewards(env) -> torch.Tensor:
    """``(N,)`` float64 ``R(x)`` on reachable terminal states, 0 elsewhere: ``env.reward`` where the
    environment has it (no log floor), else ``exp(env.log_reward)``."""
    graph = state_graph(env)
    reward = getattr(env, "reward", None)
    r = reward(graph.states).double() if callable(reward) else env.log_reward(graph.states).double().exp()
    if bool((r < 0).any()) or not bool(torch.isfinite(r).all()):
        raise ValueError(f"{type(env).__name__}: rewards must be finite and >= 0")
    return r * graph.terminable


def target_distribution(env) -> torch.Tensor:
    """``p(x) = R(x) / Σ R`` over reachable terminal states ``(N,)``, float64 (0 elsewhere)."""
    r = terminal_rewards(env)
    total = r.sum()
    if total <= 0:
        raise ValueError("the reward is zero on every reachable terminal state; the target is undefined")
    return r / total


def log_partition(env) -> float:
    """``log Z = log Σ_x R(x)`` over reachable terminal states."""
    return float(torch.log(terminal_rewards(env).sum()))


@dataclass(frozen=True)
class ExactFlows:
    """A flow consistent with a (possibly augmented) reward for ``P_B`` uniform over valid parents
    (float64, the environment's index order).

    Attributes:
        log_flow: ``(N,)`` ``log F(s)`` (``-inf`` on unreachable states).
        log_pb: ``(N, A_B)`` ``log P_B`` by backward action (``-inf`` for invalid ones).
        log_pf: ``(N, A)`` ``log P_F`` (the stop action included).
        log_edge_flow: ``(N, A)`` ``log F(s → ·)``; the stop edge carries ``R̃(s)``.
        log_z: ``log Z = log F(s_0)``.
    """

    log_flow: torch.Tensor
    log_pb: torch.Tensor
    log_pf: torch.Tensor
    log_edge_flow: torch.Tensor
    log_z: float


def exact_flows(
    env,
    log_reward: torch.Tensor | None = None,
    intrinsic: torch.Tensor | None = None,
    mode: str = "none",
    leak: str = "edge",
) -> ExactFlows:
    """Flows consistent with the target for ``P_B`` uniform over valid parents.

    Without augmentation (``mode="none"``), backward recursion in reverse topological order:
    ``F(s) = R(s)·1[s can end] + Σ_{s' ∈ Ch(s)} F(s') P_B(s|s')``, ``P_F(s'|s) = F(s') P_B(s|s') / F(s)``,
    ``P_F(stop|s) = R(s) / F(s)``, ``Z = F(s_0)``.

    With a fixed intrinsic reward ``r`` (``intrinsic``: ``(N,)``, ``r ≥ 0``) and ``mode``
    (:mod:`gafn_lib.core.augment`): the terminal reward becomes ``R̃(x) = R(x) + r(x)`` for
    ``"joint"`` (``R(x)`` for ``"edge"``), and every move ``s → s'`` carries an extra flow leaving
    through a pseudo-sink:

    - ``leak="edge"`` (TB, DB, SubTB): ``ℓ(s → s') = r(s')`` per edge, so
      ``F(s → s') = F(s') P_B(s|s') + r(s')`` (the paper's edge-augmented DB);
    - ``leak="state"`` (FM): ``ℓ(s') = r(s')`` once per state, shared by its in-edges in proportion
      to ``P_B``: ``F(s → s') = P_B(s|s') (F(s') + r(s'))`` (in-flow = out-flow + ``r(s')``).

    ``"node"`` (``R̃ = R(x) + Σ_{t=1}^{n} r(s_t)``) is trajectory-dependent; it has a consistent
    Markov flow only where every state has a single parent (a tree, e.g. bit strings): there each
    ``x`` has one trajectory, and the flows are the plain flows of the reward ``R(x) + A(x)`` with
    ``A(x)`` the sum of ``r`` along the path to ``x``. Refused on other DAGs.

    ``log_reward`` defaults to ``env.log_reward`` (with its floor) on every state.
    """
    graph = state_graph(env)
    n, n_actions = graph.forward_mask.shape
    states = graph.states
    log_r = (env.log_reward(states) if log_reward is None else log_reward).double()
    reward = log_r.exp() * graph.terminable
    r = torch.zeros(n, dtype=torch.float64) if intrinsic is None else intrinsic.double().to(states.device)
    if mode not in ("none", "edge", "node", "joint"):
        raise ValueError(f"mode must be 'none', 'edge', 'node' or 'joint', got {mode!r}")
    if leak not in ("edge", "state"):
        raise ValueError(f"leak must be 'edge' (TB/DB/SubTB) or 'state' (FM), got {leak!r}")
    if mode != "none" and intrinsic is None:
        raise ValueError(f"mode={mode!r} needs the fixed intrinsic reward `intrinsic` (N,)")
    bmask = graph.backward_mask
    pb = bmask.double() / bmask.sum(dim=1, keepdim=True).clamp_min(1)
    stop_reward = reward + (r * graph.terminable if mode == "joint" else 0.0)
    if mode == "node":
        if bool((torch.bincount(graph.dst[graph.reachable[graph.src]], minlength=n) > 1).any()):
            raise ValueError("mode='node' has a consistent Markov flow only on trees (one parent per state)")
    if mode == "node":
        path_sum = torch.zeros(n, dtype=torch.float64)  # A(s) = Σ r over s_1 .. s
        for edges in _levels(graph):
            path_sum[graph.dst[edges]] = path_sum[graph.src[edges]] + r[graph.dst[edges]]
        stop_reward = (reward + path_sum) * graph.terminable
    flow = torch.zeros(n, dtype=torch.float64)
    edge = torch.zeros(n, n_actions, dtype=torch.float64)
    depth = graph.depth
    for level in range(int(depth.max()), -1, -1):
        idx = (depth == level).nonzero(as_tuple=True)[0]
        edges = (depth[graph.src] == level).nonzero(as_tuple=True)[0]
        if edges.numel():
            s, a, c, b = graph.src[edges], graph.action[edges], graph.dst[edges], graph.back[edges]
            p = pb[c, b]
            if mode in ("edge", "joint"):
                edge[s, a] = flow[c] * p + r[c] if leak == "edge" else p * (flow[c] + r[c])
            else:
                edge[s, a] = flow[c] * p
        edge[idx, graph.stop_action] = torch.where(graph.forced[idx], 0.0, stop_reward[idx])
        flow[idx] = edge[idx].sum(dim=1) + torch.where(graph.forced[idx], stop_reward[idx], 0.0)
    log_flow = flow.log()
    log_edge = edge.log()
    log_pf = (log_edge - log_flow.unsqueeze(1)).nan_to_num(nan=-math.inf)
    return ExactFlows(log_flow=log_flow, log_pb=pb.log(), log_pf=log_pf, log_edge_flow=log_edge, log_z=float(log_flow[graph.initial]))
