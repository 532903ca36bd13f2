"""Flow matching (Bengio et al. 2021), with augmented flows (Pan et al. 2023, FM form)."""

from __future__ import annotations

import math

import torch

from gafn_lib.core.terms import NEG_INF, FlowMatchingTerms


def fm_loss(terms: FlowMatchingTerms, log_reg_c: float = 0.0, leaf_coef: float | None = None) -> torch.Tensor:
    """Flow-matching loss in log space over every non-initial state of the batch, plus sink matching.

    The forward "logits" are log edge flows ``log F(s → ·)`` (the policy is their softmax).
    For ``s' = s_{t+1}`` (row ``(b, t)``):

    ``δ(s') = log Σ_{p ∈ Par(s')} F(p → s') − log( Σ_{a} F(s' → a) + ℓ(s') + 1[s' forced terminal] R̃(s') )``

    where the sum over ``a`` includes the stop edge and ``ℓ(s') = r(s')`` is the augmented flow that
    leaves ``s'`` (paper: "r(s) added to the out-flow of every state"; 0 without edge/joint).
    Sink matching at each terminal ``x`` with a stop edge: ``δ_⊤ = log F(x → ⊤) − log R̃(x)``.

    Loss ``= (Σ δ(s')² + Σ δ_⊤²) / (#states + #sink terms)``.

    Options of the public release (``ling-pan/GAFN`` ``mols/gflownet.py``; docs/method.md, molecules):

    - ``log_reg_c = c > 0``: ``c`` inside both logs of every term,
      ``δ = log(c + Σ in) − log(c + Σ out + ℓ + 1[forced] R̃)`` and ``δ_⊤ = log(c + F(x→⊤)) − log(c + R̃)``
      (release: ``inflow = log(exp_inflow + log_reg_c)``, ``log(log_reg_c + r + exp_outflow·(1−d) + ris)``).
    - ``leaf_coef = λ`` (balanced loss): ``λ · mean(terminal δ²) + mean(other δ²)``, where the terminal
      terms are the sink terms and the forced-terminal states' terms (the release's ``d = 1``
      transitions; each mean is 0 when its set is empty). ``None``: one mean over all terms.
    """
    mask = terms.mask
    batch, horizon = mask.shape
    lengths = terms.lengths
    log_in = torch.logsumexp(terms.log_inflow, dim=2)  # (B, T)
    out_parts = [terms.log_outflow]
    if terms.log_leak is not None:
        out_parts.append(terms.log_leak.unsqueeze(2))
    # R̃(x) enters the out-flow of a forced-terminal x directly (it has no stop edge)
    last = torch.arange(horizon, device=mask.device).unsqueeze(0) == (lengths - 1).unsqueeze(1)
    forced_last = last & terms.forced.unsqueeze(1) & mask
    reward_part = torch.where(forced_last, terms.log_reward.unsqueeze(1), torch.full_like(log_in, NEG_INF))
    out_parts.append(reward_part.unsqueeze(2))
    log_out = torch.logsumexp(torch.cat(out_parts, dim=2), dim=2)
    sink_in, sink_out = terms.log_stop_flow, terms.log_reward
    if log_reg_c > 0:
        log_c = math.log(log_reg_c)
        log_in, log_out = torch.logaddexp(log_in, torch.full_like(log_in, log_c)), torch.logaddexp(log_out, torch.full_like(log_out, log_c))
        sink_in, sink_out = torch.logaddexp(sink_in, torch.full_like(sink_in, log_c)), torch.logaddexp(sink_out, torch.full_like(sink_out, log_c))
    delta_states = torch.where(mask, log_in - log_out, torch.zeros_like(log_in))
    sink = ~terms.forced
    delta_sink = torch.where(sink, sink_in - sink_out, torch.zeros_like(terms.log_reward))
    if leaf_coef is not None:
        sq = delta_states.pow(2)
        n_terminal = forced_last.sum() + sink.sum()
        terminal = (sq * forced_last).sum() + delta_sink.pow(2).sum()
        flow = mask & ~forced_last
        return leaf_coef * terminal / n_terminal.clamp_min(1) + (sq * flow).sum() / flow.sum().clamp_min(1)
    return (delta_states.pow(2).sum() + delta_sink.pow(2).sum()) / (mask.sum() + sink.sum()).clamp_min(1)
