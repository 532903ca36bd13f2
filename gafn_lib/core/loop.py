"""The plumbing every trainer shares: the logged training loop and the RNG snapshot for resume."""

from __future__ import annotations

import math
import numbers
import random
from typing import Any, Callable

import numpy as np
import torch

from gafn_lib.core.history import History, restored_rows


def rng_state() -> dict:
    """Snapshot of the torch (CPU), NumPy and Python RNGs as tensors and plain containers
    (loadable with ``torch.load(..., weights_only=True)``)."""
    np_state = np.random.get_state()
    return {
        "rng_torch": torch.get_rng_state(),
        "rng_numpy": torch.from_numpy(np.frombuffer(np_state[1].tobytes(), dtype=np.uint8).copy()),
        "rng_numpy_pos": int(np_state[2]),
        "rng_python": [int(x) for x in random.getstate()[1]],
    }


def load_rng_state(state: dict) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["rng_torch"])
    keys = np.frombuffer(state["rng_numpy"].numpy().tobytes(), dtype=np.uint32)
    np.random.set_state(("MT19937", keys, int(state["rng_numpy_pos"]), 0, 0.0))
    random.setstate((3, tuple(state["rng_python"]), None))


#: The keys of a step's info dict that :func:`check_step_losses` requires to be finite: the
#: objective's loss and the intrinsic model's (what the trainer back-propagates).
CHECKED_LOSSES = ("loss", "intrinsic_loss")


class NonFiniteLossError(FloatingPointError):
    """A training step produced a NaN or infinite loss (raised by the logged loop, naming the step
    and the run, instead of training on)."""


def check_step_losses(trainer, infos: Any) -> None:
    """Raise :class:`NonFiniteLossError` if a step's losses are not finite.

    ``infos`` is what ``trainer.step()`` returned: a dict (a solo trainer) or a list of per-member
    dicts (an ensemble); the keys of :data:`CHECKED_LOSSES` it holds are checked (Python floats, so
    the check costs next to nothing). The message names the step (``trainer.step_count`` after the
    step), the run (``trainer.describe()``) and, in an ensemble, the member with its seed and
    objective.
    """
    members = infos if isinstance(infos, (list, tuple)) else [infos]
    for member, info in enumerate(members):
        if not isinstance(info, dict):
            continue
        for key in CHECKED_LOSSES:
            value = info.get(key)
            if not isinstance(value, numbers.Real) or math.isfinite(value):
                continue
            run = trainer.describe() if callable(getattr(trainer, "describe", None)) else type(trainer).__name__
            configs = getattr(trainer, "configs", None)
            if isinstance(infos, (list, tuple)) and configs is not None and member < len(configs):
                c = configs[member]
                fields = ", ".join(f"{f}={getattr(c, f)!r}" for f in ("seed", "objective", "augment", "intrinsic") if hasattr(c, f))
                run = f"{run}, member {member} ({fields})"
            losses = ", ".join(f"{k}={info[k]}" for k in CHECKED_LOSSES if k in info)
            raise NonFiniteLossError(
                f"non-finite loss ({value}) at step {trainer.step_count} of run {run}: {losses}. Training stops here "
                "instead of running on with NaN parameters; usual causes: a log_reward that is NaN or +inf on some "
                "terminal state (gafn_lib.core.env.check_environment probes only a few states of a large "
                "environment), a learning rate too high, or a custom intrinsic reward returning NaN"
            )


def step_until(
    trainer,
    n_steps: int | None,
    progress: bool,
    on_log: Callable[[Any], None] | None,
    log_rows: Callable[[], dict | None],
) -> None:
    """Step ``trainer`` until ``trainer.step_count`` reaches ``n_steps`` (default
    ``trainer.config.n_steps``); every ``config.log_every`` steps and at the last step call
    ``log_rows()`` (it logs the metric rows and may return the progress bar's postfix), then
    ``on_log(trainer)`` (the runner checkpoints there). A step whose loss is NaN or infinite raises
    :class:`NonFiniteLossError` (:func:`check_step_losses`) before anything is logged."""
    from tqdm.auto import tqdm

    config = trainer.config
    target = config.n_steps if n_steps is None else n_steps
    bar = tqdm(total=target, initial=trainer.step_count, disable=not progress, desc=trainer.describe(), leave=False)
    try:
        while trainer.step_count < target:
            infos = trainer.step()
            check_step_losses(trainer, infos)
            bar.update(1)
            if trainer.step_count % config.log_every == 0 or trainer.step_count == target:
                summary = log_rows()
                if summary is not None:
                    bar.set_postfix(**summary)
                if on_log is not None:
                    on_log(trainer)
    finally:
        bar.close()


def run_logged_loop(
    trainer,
    n_steps: int | None,
    progress: bool,
    on_log: Callable[[Any], None] | None,
    postfix: Callable[[dict], dict] | None = None,
) -> History:
    """:func:`step_until` logging ``trainer.evaluate()`` into ``trainer.history``; ``postfix(row)``
    gives the progress bar's summary of a logged row."""

    def log_rows() -> dict | None:
        row = trainer.evaluate()
        trainer.history.log(row)
        return None if postfix is None else postfix(row)

    step_until(trainer, n_steps, progress, on_log, log_rows)
    return trainer.history


class Trainer:
    """Base class of every trainer: the logged loop and checkpointing shared by all of them.

    A subclass sets ``config``, ``history`` (:class:`History`), ``step_count``, ``wall_seconds``
    and ``_last_info`` (the last step's diagnostics, merged into each logged row), implements
    ``step()``, ``evaluate()`` and ``describe()``, and lists in ``_components`` the attributes that
    have their own ``state_dict``/``load_state_dict`` (networks, optimisers, trackers). Anything
    else it must save goes through :meth:`_extra_state` / :meth:`_load_extra_state`.

    :meth:`state_dict` holds tensors and plain containers only (``torch.load(...,
    weights_only=True)``) and restores the RNGs, so a resumed run is bit-for-bit the same on CPU.
    """

    _components: tuple[str, ...] = ()

    def progress_postfix(self, row: dict) -> dict:
        """What the progress bar shows of a logged row."""
        return {}

    def train(self, n_steps: int | None = None, progress: bool = True, on_log: Callable[[Any], None] | None = None) -> History:
        """Run until ``n_steps`` (default ``config.n_steps``) steps are done in total, logging a row every
        ``config.log_every`` steps and at the last step; ``on_log(trainer)`` follows each row."""
        return run_logged_loop(self, n_steps, progress, on_log, self.progress_postfix)

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        state = {
            "step_count": self.step_count,
            "wall_seconds": self.wall_seconds,
            "history_rows": [dict(r) for r in self.history.rows],
            "last_info": dict(self._last_info),
            **rng_state(),
        }
        for name in self._components:
            state[name] = getattr(self, name).state_dict()
        state.update(self._extra_state())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self.wall_seconds = float(state["wall_seconds"])
        self.history.rows = restored_rows(state["history_rows"])
        self._last_info = dict(state["last_info"])
        for name in self._components:
            getattr(self, name).load_state_dict(state[name])
        self._load_extra_state(state)
        load_rng_state(state)
