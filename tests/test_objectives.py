"""Objectives: vectorised losses vs slow per-trajectory references, for every augmentation mode."""

import math

import pytest
import torch

from gafn_lib.core.augment import AUGMENT_MODES, augment
from gafn_lib.core.objectives import db_loss, fm_loss, subtb_loss, tb_loss
from gafn_lib.core.terms import FlowMatchingTerms, TrajectoryTerms

NEG_INF = float("-inf")


def random_batch(seed, batch=6, horizon=5, n_parents=3, n_actions=4, zero_intrinsic=False):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, horizon + 1, (batch,), generator=g)
    lengths[0] = horizon
    lengths[1] = 0
    mask = torch.arange(horizon).unsqueeze(0) < lengths.unsqueeze(1)
    rnd = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    log_intrinsic = (rnd(batch, horizon) - 3).masked_fill(~mask, NEG_INF)
    if zero_intrinsic:
        log_intrinsic = torch.full_like(log_intrinsic, NEG_INF)
    last = (lengths - 1).clamp_min(0)
    log_intrinsic_terminal = torch.where(lengths > 0, log_intrinsic.gather(1, last.unsqueeze(1)).squeeze(1), rnd(batch) - 3)
    if zero_intrinsic:
        log_intrinsic_terminal = torch.full_like(log_intrinsic_terminal, NEG_INF)
    forced = torch.rand(batch, generator=g) < 0.4
    forced[1] = False  # an empty trajectory always ends with stop
    traj = TrajectoryTerms(
        log_pf=-rnd(batch, horizon).abs() * mask,
        log_pb=-rnd(batch, horizon).abs() * mask,
        log_flow=rnd(batch, horizon + 1),
        log_pf_stop=torch.where(forced, torch.zeros(batch, dtype=torch.float64), -rnd(batch).abs()),
        log_reward=rnd(batch),
        mask=mask,
        log_intrinsic=log_intrinsic,
        log_intrinsic_terminal=log_intrinsic_terminal,
    )
    parent_ok = torch.rand(batch, horizon, n_parents, generator=g) < 0.7
    parent_ok[..., 0] = True
    action_ok = torch.rand(batch, horizon, n_actions, generator=g) < 0.7
    action_ok[..., -1] = True
    fm = FlowMatchingTerms(
        log_inflow=rnd(batch, horizon, n_parents).masked_fill(~parent_ok, NEG_INF),
        log_outflow=rnd(batch, horizon, n_actions).masked_fill(~action_ok, NEG_INF),
        log_stop_flow=torch.where(forced, torch.full((batch,), NEG_INF, dtype=torch.float64), rnd(batch)),
        forced=forced,
        log_reward=traj.log_reward,
        mask=mask,
        log_intrinsic=log_intrinsic,
        log_intrinsic_terminal=log_intrinsic_terminal,
    )
    return traj, fm, torch.tensor(0.3, dtype=torch.float64)


# ----------------------------------------------------------------------------- slow references
def ref_reward(mode, t, b):
    n = int(t.mask[b].sum())
    reward = math.exp(t.log_reward[b])
    if mode == "joint":
        reward += math.exp(t.log_intrinsic_terminal[b])
    if mode == "node":
        reward += sum(math.exp(t.log_intrinsic[b, k]) for k in range(n))
    return reward


def ref_pb(mode, t, b, k):
    """P̃_B of move k: P_B + r(s_{k+1}) / F(s_{k+1}) for edge/joint."""
    pb = math.exp(t.log_pb[b, k])
    if mode in ("edge", "joint"):
        pb += math.exp(t.log_intrinsic[b, k]) / math.exp(t.log_flow[b, k + 1])
    return pb


def ref_tb(mode, t, log_z):
    total = 0.0
    for b in range(t.mask.shape[0]):
        n = int(t.mask[b].sum())
        lhs = float(log_z) + sum(float(t.log_pf[b, k]) for k in range(n)) + float(t.log_pf_stop[b])
        rhs = math.log(ref_reward(mode, t, b)) + sum(math.log(ref_pb(mode, t, b, k)) for k in range(n))
        total += (lhs - rhs) ** 2
    return total / t.mask.shape[0]


def ref_db(mode, t, log_z):
    sq, count = 0.0, 0
    for b in range(t.mask.shape[0]):
        n = int(t.mask[b].sum())
        flow = lambda k: float(log_z) if k == 0 else float(t.log_flow[b, k])
        for k in range(n):
            sq += (flow(k) + float(t.log_pf[b, k]) - flow(k + 1) - math.log(ref_pb(mode, t, b, k))) ** 2
            count += 1
        sq += (flow(n) + float(t.log_pf_stop[b]) - math.log(ref_reward(mode, t, b))) ** 2
        count += 1
    return sq / count


def ref_subtb(mode, t, log_z, lam):
    per = []
    for b in range(t.mask.shape[0]):
        n = int(t.mask[b].sum())
        phi = [float(log_z)] + [float(t.log_flow[b, k]) for k in range(1, n + 1)] + [math.log(ref_reward(mode, t, b))]
        inc = [float(t.log_pf[b, k]) - math.log(ref_pb(mode, t, b, k)) for k in range(n)] + [float(t.log_pf_stop[b])]
        num = den = 0.0
        for i in range(n + 2):
            for j in range(i + 1, n + 2):
                res = phi[i] + sum(inc[i:j]) - phi[j]
                num += lam ** (j - i) * res**2
                den += lam ** (j - i)
        per.append(num / den)
    return sum(per) / len(per)


def ref_fm(mode, f):
    sq, count = 0.0, 0
    batch = f.mask.shape[0]
    for b in range(batch):
        n = int(f.mask[b].sum())
        for k in range(n):
            inflow = sum(math.exp(v) for v in f.log_inflow[b, k].tolist() if v != NEG_INF)
            outflow = sum(math.exp(v) for v in f.log_outflow[b, k].tolist() if v != NEG_INF)
            if mode in ("edge", "joint"):
                outflow += math.exp(f.log_intrinsic[b, k])
            if k == n - 1 and bool(f.forced[b]):
                outflow += ref_reward(mode, f, b)
            sq += (math.log(inflow) - math.log(outflow)) ** 2
            count += 1
        if not bool(f.forced[b]):
            sq += (float(f.log_stop_flow[b]) - math.log(ref_reward(mode, f, b))) ** 2
            count += 1
    return sq / count


@pytest.mark.parametrize("mode", AUGMENT_MODES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_losses_equal_references(mode, seed):
    traj, fm, log_z = random_batch(seed)
    aug = augment(traj, mode)
    assert float(tb_loss(aug, log_z)) == pytest.approx(ref_tb(mode, traj, log_z), rel=1e-5, abs=1e-5)
    assert float(db_loss(aug, log_z)) == pytest.approx(ref_db(mode, traj, log_z), rel=1e-5, abs=1e-5)
    for lam in (0.5, 0.9, 1.0):
        assert float(subtb_loss(aug, log_z, lam)) == pytest.approx(ref_subtb(mode, traj, log_z, lam), rel=1e-5, abs=1e-5)
    assert float(fm_loss(augment(fm, mode))) == pytest.approx(ref_fm(mode, fm), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("mode", AUGMENT_MODES)
def test_zero_intrinsic_reduces_to_plain(mode):
    traj, fm, log_z = random_batch(7, zero_intrinsic=True)
    plain, aug = augment(traj, "none"), augment(traj, mode)
    assert torch.allclose(tb_loss(aug, log_z), tb_loss(plain, log_z), atol=0, rtol=1e-12)
    assert torch.allclose(db_loss(aug, log_z), db_loss(plain, log_z), atol=0, rtol=1e-12)
    assert torch.allclose(subtb_loss(aug, log_z), subtb_loss(plain, log_z), atol=0, rtol=1e-12)
    assert torch.allclose(fm_loss(augment(fm, mode)), fm_loss(augment(fm, "none")), atol=0, rtol=1e-12)


def test_augmentation_changes_losses_when_intrinsic_is_positive():
    traj, fm, log_z = random_batch(3)
    base = float(tb_loss(augment(traj, "none"), log_z))
    for mode in ("edge", "node", "joint"):
        assert float(tb_loss(augment(traj, mode), log_z)) != pytest.approx(base)


def test_gradients_are_finite_with_masked_padding():
    traj, fm, log_z = random_batch(4)
    log_flow = traj.log_flow.clone().requires_grad_(True)
    log_z = log_z.clone().requires_grad_(True)
    aug = augment(traj.replace(log_flow=log_flow), "joint")
    for loss in (tb_loss(aug, log_z), db_loss(aug, log_z), subtb_loss(aug, log_z)):
        g_flow, g_z = torch.autograd.grad(loss, (log_flow, log_z))
        assert torch.isfinite(g_flow).all() and torch.isfinite(g_z)


def test_bad_mode_and_lambda():
    traj, _, log_z = random_batch(0)
    with pytest.raises(ValueError, match="augment"):
        augment(traj, "both")
    with pytest.raises(ValueError, match="lambda"):
        subtb_loss(augment(traj, "none"), log_z, lam=0.0)
