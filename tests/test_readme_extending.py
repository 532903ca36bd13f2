"""The README's "Extending gafn_lib" section: its code runs, its TrainConfig table is the real one,
and the quick preset it advertises is a short run."""

import ast
import dataclasses
import re
from pathlib import Path

import pytest

import gafn_lib.core.config as config_module
from gafn_lib.core.config import QUICK_PRESET, EnvTrainConfig, TrainConfig
from gafn_lib.envs import BitSequences, BitSequencesConfig
from gafn_lib.grid.config import GridTrainConfig

ROOT = Path(__file__).resolve().parents[1]


def extending_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Extending gafn_lib")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_extending_example_runs_on_a_small_environment(monkeypatch):
    tiny = {"n_steps": 20, "hidden": 16, "log_every": 10}
    monkeypatch.setattr(config_module, "QUICK_PRESET", tiny)  # the README's TrainConfig.quick, tinier
    blocks = re.findall(r"```python\n(.*?)```", extending_section(), flags=re.S)
    assert blocks, "the Extending section has no python example"
    env = BitSequences(BitSequencesConfig(length=3, targets=("101", "01")))
    namespace = {"my_env": env}
    for block in blocks:
        exec(compile(block, "README.md (Extending)", "exec"), namespace)
    trainer = namespace["trainer"]
    assert trainer.step_count == tiny["n_steps"] and trainer.config.hidden == tiny["hidden"]
    p_model = namespace["p_model"]
    assert p_model.shape == (env.n_states,) and abs(float(p_model.sum()) - 1) < 1e-6
    assert 0 <= float(namespace["l1"]) <= 2
    assert namespace["objects"].shape == (trainer.config.batch_size, env.length)


def test_the_readme_table_lists_every_train_config_field_with_its_default():
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", extending_section(), flags=re.M)
    documented = dict(rows)
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert list(documented) == list(fields)
    for name, default in fields.items():
        assert ast.literal_eval(documented[name]) == default, name


def test_the_quick_preset_is_short_and_overridable():
    quick = TrainConfig.quick()
    assert (quick.n_steps, quick.hidden, quick.log_every) == (300, 64, 50)
    assert quick.n_steps < TrainConfig().n_steps and quick.hidden < TrainConfig().hidden
    assert TrainConfig.quick(objective="db", n_steps=7).n_steps == 7
    grid = GridTrainConfig.quick(height=16)
    assert isinstance(grid, GridTrainConfig) and grid.height == 16 and grid.n_steps == 300
    assert EnvTrainConfig.quick(env="bitseq").hidden == 64
    # the preset is read-only: a notebook cannot change it for everyone else by accident
    with pytest.raises(TypeError):
        QUICK_PRESET["n_steps"] = 1  # type: ignore[index]
