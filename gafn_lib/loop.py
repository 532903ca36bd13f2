"""The plumbing every trainer shares: the logged training loop and the RNG snapshot for resume."""

from __future__ import annotations

import random
from typing import Any, Callable

import numpy as np
import torch

from gafn_lib.history import History


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


def run_logged_loop(
    trainer,
    n_steps: int | None,
    progress: bool,
    on_log: Callable[[Any], None] | None,
    postfix: Callable[[dict], dict] | None = None,
) -> History:
    """Step ``trainer`` until ``trainer.step_count`` reaches ``n_steps`` (default
    ``trainer.config.n_steps``), logging ``trainer.evaluate()`` every ``config.log_every`` steps and
    at the last step, then calling ``on_log(trainer)`` (the runner checkpoints there).

    ``postfix(row)`` gives the progress bar's summary of a logged row.
    """
    from tqdm.auto import tqdm

    config = trainer.config
    target = config.n_steps if n_steps is None else n_steps
    bar = tqdm(total=target, initial=trainer.step_count, disable=not progress, desc=trainer.describe(), leave=False)
    while trainer.step_count < target:
        trainer.step()
        bar.update(1)
        if trainer.step_count % config.log_every == 0 or trainer.step_count == target:
            row = trainer.evaluate()
            trainer.history.log(row)
            if postfix is not None:
                bar.set_postfix(**postfix(row))
            if on_log is not None:
                on_log(trainer)
    bar.close()
    return trainer.history
