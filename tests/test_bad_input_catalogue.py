"""A catalogue of bad inputs across the public API: each raises its specific graphft error, and the message
names the bad value and the fix. Then property-based tests (hypothesis) over configs, relation matrices and
task sets: any input either works or raises the documented graphft error, never another exception."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_learners import validate_relation_matrix
from graphft.adapters import inject_adapter_banks
from graphft.backbones import tiny_backbone
from graphft.checkpoint import load_training_checkpoint
from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, RouterConfig, TrainingConfig
from graphft.errors import (
    AdapterError,
    CheckpointError,
    ConfigError,
    GraphError,
    GraphFTError,
    RoutingError,
    TargetModulesError,
    TaskError,
)
from graphft.io import load_model
from graphft.model import GraphFTModel
from graphft.tasks.data import EncodedSplit, MultiTaskData, TaskData
from graphft.tasks.spec import TaskSpec
from graphft.training import train

TASKS = [TaskSpec("sentiment", label_names=["neg", "pos"]), TaskSpec("topic", label_names=["a", "b", "c"])]


def _config(**graph: object) -> GraphFTConfig:
    return GraphFTConfig(
        adapter=AdapterConfig(num_modules=2, rank=2),
        graph=GraphConfig(embedding_dim=4, **graph),  # type: ignore[arg-type]
        training=TrainingConfig(steps=1, batch_size=4, progress=False),
    )


@functools.cache
def _model() -> GraphFTModel:
    return GraphFTModel(tiny_backbone("bert"), TASKS, _config())


def _split(labels: list[int]) -> EncodedSplit:
    size = len(labels)
    return EncodedSplit(
        torch.ones(size, 3, dtype=torch.long), torch.ones(size, 3, dtype=torch.long), torch.tensor(labels)
    )


def _forward(task_ids: list[int], labels: list[float] | None = None) -> None:
    model = _model()
    size = len(task_ids)
    model(
        input_ids=torch.full((size, 4), 7),
        attention_mask=torch.ones(size, 4, dtype=torch.long),
        task_ids=torch.tensor(task_ids),
        labels=None if labels is None else torch.tensor(labels),
    )


def _data(*names: str) -> MultiTaskData:
    return MultiTaskData([TaskData(TaskSpec(name, label_names=["n", "y"]), *[_split([0, 1])] * 3) for name in names])


def _bad_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "step-00000001").mkdir()
    (tmp_path / "step-00000001" / "trainer.json").write_text('{"format_version": 0}')
    model = _model()
    load_training_checkpoint(tmp_path / "step-00000001", model, torch.optim.AdamW(model.parameters()), None)  # type: ignore[arg-type]


def _train_diverged() -> None:
    model = GraphFTModel(tiny_backbone("bert"), TASKS, _config())
    with torch.no_grad():
        model.heads.bias.fill_(math.nan)
    train(model, _data("sentiment", "topic"), log_every=1)


# (id, call taking tmp_path, error type, substrings the message must contain: the bad value, then the fix)
CASES: list[tuple[str, Callable[[Path], object], type[GraphFTError], list[str]]] = [
    ("adapter rank 0", lambda _: AdapterConfig(rank=0), ConfigError, ["rank", "got 0", "set it to 1 or more"]),
    ("adapter dropout 1.5", lambda _: AdapterConfig(dropout=1.5), ConfigError, ["dropout", "1.5", "[0.0, 1.0)"]),
    ("adapter alpha nan", lambda _: AdapterConfig(alpha=math.nan), ConfigError, ["alpha", "nan", "positive finite"]),
    ("empty target list", lambda _: AdapterConfig(target_modules=[]), ConfigError, ["[]", "non-empty list"]),
    (
        "min temperature above start",
        lambda _: RouterConfig(min_temperature=2.0),
        ConfigError,
        ["min_temperature (2.0)", "annealing only lowers"],
    ),
    ("unknown anneal", lambda _: RouterConfig(anneal="cosine"), ConfigError, ["'cosine'", "one of 'exponential'"]),
    (
        "threshold 1",
        lambda _: RouterConfig(gating_threshold=1.0),
        ConfigError,
        ["gating_threshold", "1.0", "[0.0, 1.0)"],
    ),
    ("fixed learner without R0", lambda _: GraphConfig(learner="fixed"), ConfigError, ["learner='fixed'", "give one"]),
    ("unknown conv", lambda _: GraphConfig(conv="gin"), ConfigError, ["'gin'", "'gcn', 'gatv2'"]),
    (
        "ragged prior matrix",
        lambda _: GraphConfig(prior_relation_matrix=[[1.0, 0.0], [0.0]]),
        ConfigError,
        ["[[1.0, 0.0], [0.0]]", "equally long lists"],
    ),
    ("negative batch size", lambda _: TrainingConfig(batch_size=-3), ConfigError, ["batch_size", "-3", "1 or more"]),
    ("fp16 precision", lambda _: TrainingConfig(precision="fp16"), ConfigError, ["'fp16'", "'fp32', 'bf16'"]),
    ("inf learning rate", lambda _: TrainingConfig(lr_heads=math.inf), ConfigError, ["lr_heads", "inf", "finite"]),
    ("float eval_every", lambda _: TrainingConfig(eval_every=2.5), ConfigError, ["eval_every", "2.5", "integer"]),
    (
        "misspelt config key",
        lambda _: GraphFTConfig.from_dict({"router": {"gating_treshold": 0.2}}),
        ConfigError,
        ["'gating_treshold'", "Did you mean 'gating_threshold'"],
    ),
    ("non-string config key", lambda _: GraphFTConfig.from_dict({3: 1}), ConfigError, ["3", "Known fields"]),
    ("config section not a mapping", lambda _: GraphFTConfig(adapter=5), ConfigError, ["got 5", "or a mapping"]),
    (
        "missing YAML file",
        lambda tmp: GraphFTConfig.from_yaml(tmp / "nope.yaml"),
        ConfigError,
        ["nope.yaml", "pass the path of a YAML file"],
    ),
    ("task name escaping upwards", lambda _: TaskSpec("../evil"), TaskError, ["'../evil'", "use letters, digits"]),
    ("task name with a slash", lambda _: TaskSpec("a/b"), TaskError, ["'a/b'", "use letters, digits"]),
    ("absolute task name", lambda _: TaskSpec("/etc/passwd"), TaskError, ["'/etc/passwd'", "use letters, digits"]),
    ("hidden task name", lambda _: TaskSpec(".hidden"), TaskError, ["'.hidden'", "starting with a letter or digit"]),
    ("task name with newline", lambda _: TaskSpec("name\n"), TaskError, ["'name\\n'", "use letters, digits"]),
    ("one-class task", lambda _: TaskSpec("single", label_names=["only"]), TaskError, ["'single'", "at least 2"]),
    (
        "unknown task kind",
        lambda _: TaskSpec("t", kind="ranking"),
        TaskError,
        ["'ranking'", "classification, regression"],
    ),
    (
        "metric of another kind",
        lambda _: TaskSpec("t", kind="regression", metric="accuracy"),
        TaskError,
        ["'accuracy'", "('mse', 'spearman')"],
    ),
    ("label_names not a list", lambda _: TaskSpec("t", label_names=5), TaskError, ["got 5", "list of class names"]),
    (
        "unknown task key",
        lambda _: TaskSpec.from_dict({"name": "t", "colour": "red"}),
        TaskError,
        ["'colour'", "known keys: name, kind"],
    ),
    (
        "labels outside the classes",
        lambda _: TaskData(TaskSpec("t", label_names=["n", "y"]), _split([0, 2]), _split([0]), _split([0])),
        TaskError,
        ["[0, 2]", "must lie in [0, 1]"],
    ),
    (
        "task without training data",
        lambda _: TaskData(TASKS[0], *[_split([])] * 3),
        TaskError,
        ["'sentiment'", "at least one"],
    ),
    ("duplicate task names", lambda _: _data("a", "a"), TaskError, ["repeated: a", "must be unique"]),
    ("unknown split", lambda _: _data("a").tasks[0].split("dev"), TaskError, ["'dev'", "use one of train"]),
    ("task id out of range", lambda _: _forward([0, 5]), RoutingError, ["[0, 5]", "model.task_id(name)"]),
    ("label outside a task's classes", lambda _: _forward([0, 1], [3.0, 0.0]), TaskError, ["label 3", "[0, 1]"]),
    ("unknown task name", lambda _: _model().task_id("nope"), RoutingError, ["'nope'", "known tasks: sentiment"]),
    ("zero routing temperature", lambda _: _model().router.set_temperature(0.0), RoutingError, ["0.0", "positive"]),
    (
        "non-square relation prior",
        lambda _: GraphFTModel(tiny_backbone("bert"), TASKS, _config(prior_relation_matrix=[[1.0, 0.0]])),
        GraphError,
        ["(1, 2)", "must be square"],
    ),
    (
        "relation prior of the wrong size",
        lambda _: GraphFTModel(tiny_backbone("bert"), TASKS, _config(prior_relation_matrix=[[1.0]])),
        GraphError,
        ["1 x 1 but there are 2 tasks", "one row and column per task"],
    ),
    (
        "negative relation prior",
        lambda _: GraphFTModel(tiny_backbone("bert"), TASKS, _config(prior_relation_matrix=[[0, -1], [0, 0]])),
        GraphError,
        ["-1", "must be >= 0"],
    ),
    (
        "target modules matching nothing",
        lambda _: inject_adapter_banks(tiny_backbone("bert"), AdapterConfig(target_modules=["q_proj"])),
        TargetModulesError,
        ["['q_proj']", "Adaptable layer names: dense, key, query, value"],
    ),
    (
        "bad module weights",
        lambda _: next(iter(_model().banks.values())).set_module_weights(torch.ones(3)),
        AdapterError,
        ["got (3,)", "k=2"],
    ),
    (
        "resume without a directory",
        lambda _: train(_model(), _data("sentiment", "topic"), resume=True),
        ConfigError,
        ["resume=True", "pass the directory"],
    ),
    (
        "model and data tasks differ",
        lambda _: train(_model(), _data("a", "b")),
        GraphFTError,
        ["['a', 'b']", "use the same"],
    ),
    (
        "log_every 0",
        lambda _: train(_model(), _data("sentiment", "topic"), log_every=0),
        ConfigError,
        ["got 0", "1 or more"],
    ),
    (
        "distributed without a process group",
        lambda _: train(_model(), _data("sentiment", "topic"), distributed=True),
        ConfigError,
        ["distributed=True", "init_process_group"],
    ),
    ("NaN loss", lambda _: _train_diverged(), GraphFTError, ["non-finite (NaN or inf) at step 0", "grad_clip"]),
    ("missing saved model", lambda tmp: load_model(tmp / "nowhere"), CheckpointError, ["nowhere", "save_model"]),
    ("old checkpoint format", _bad_checkpoint, CheckpointError, ["trainer.json", "version 0", "graphft version"]),
]


@pytest.mark.parametrize(("call", "error", "fragments"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_raises_its_error_naming_value_and_fix(
    call: Callable[[Path], object], error: type[GraphFTError], fragments: list[str], tmp_path: Path
) -> None:
    with pytest.raises(error) as raised:
        call(tmp_path)
    message = str(raised.value)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{missing} not in: {message}"


def test_catalogue_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 20 and len({case[0] for case in CASES}) == len(CASES)


# ------------------------------------------------------------------------------------------- properties
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = {
    "adapter": ["num_modules", "rank", "alpha", "dropout", "target_modules"],
    "router": [
        "routing_temperature",
        "min_temperature",
        "anneal",
        "relaxation",
        "gating_threshold",
        "top_k",
        "straight_through",
        "prior_strength",
        "neighbour_prior",
        "neighbour_normalisation",
        "prior_hidden_dim",
    ],
    "graph": [
        "learner",
        "embedding_dim",
        "conv",
        "num_layers",
        "top_k",
        "symmetric",
        "relation_temperature",
        "prior_relation_matrix",
        "prior_weight",
        "descriptor_examples",
    ],
    "regularisation": ["relation", "balance", "relation_sparsity", "relation_prior", "relation_collapse"],
    "training": [
        "steps",
        "batch_size",
        "max_length",
        "lr_adapters",
        "lr_router",
        "lr_graph",
        "lr_heads",
        "weight_decay",
        "grad_clip",
        "task_sampling_temperature",
        "eval_every",
        "seed",
        "progress",
        "checkpoint_every",
        "keep_checkpoints",
        "precision",
    ],
}
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "all-linear", "gcn", "fixed", "softmax", "linear", "bf16", "x", "(", "minilm"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.lists(st.lists(scalars, max_size=3), max_size=3))


@st.composite
def config_dicts(draw: st.DrawFn) -> dict[object, object]:
    document: dict[object, object] = {}
    for section in draw(st.lists(st.sampled_from([*FIELDS, "bogus"]), max_size=3, unique=True)):
        if section == "bogus" or draw(st.booleans()) is False:
            document[section] = draw(values)
            continue
        names = draw(st.lists(st.sampled_from([*FIELDS[section], "typo"]), max_size=4, unique=True))
        document[section] = {name: draw(values) for name in names}
    for key in draw(st.lists(st.sampled_from(["backbone", "num_hidden_layers", 7]), max_size=2, unique=True)):
        document[key] = draw(values)
    return document


@FAST
@given(config_dicts())
def test_random_config_dicts_give_a_config_or_a_config_error(document: dict[str, object]) -> None:
    try:
        config = GraphFTConfig.from_dict(document)
    except ConfigError as exc:
        assert str(exc)
        return
    assert GraphFTConfig.from_dict(config.to_dict()) == config  # a valid config round-trips


matrices = st.one_of(
    st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=4), max_size=4),
    st.lists(st.lists(st.one_of(st.integers(-2, 2), st.text(max_size=1), st.none()), max_size=3), max_size=3),
    st.integers(0, 4).flatmap(
        lambda n: st.lists(st.lists(st.floats(0, 5), min_size=n, max_size=n), min_size=n, max_size=n)
    ),
)


@FAST
@given(matrices, st.one_of(st.none(), st.integers(0, 4)))
def test_relation_matrices_validate_or_raise_the_given_error(matrix: list[list[object]], num_nodes: int | None) -> None:
    try:
        validated = validate_relation_matrix(matrix, num_nodes, error=GraphError)  # type: ignore[arg-type]
    except GraphError as exc:
        assert str(exc)
        return
    assert validated.ndim == 2 and validated.shape[0] == validated.shape[1]
    assert bool(torch.isfinite(validated).all()) and bool((validated >= 0).all())
    assert num_nodes is None or validated.shape[0] == num_nodes


task_dicts = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["a", "b", "a", "../x", "x/y", ".h", "ok-1.2_3"]), st.text(max_size=5))},
    optional={
        "kind": st.sampled_from(["classification", "regression", "causal_lm", "ranking", ""]),
        "label_names": st.one_of(st.lists(st.sampled_from(["n", "y", "m", "n"]), max_size=3), st.integers(), st.none()),
        "metric": st.one_of(st.sampled_from(["", "accuracy", "mse", "loss", "f1"]), st.integers()),
        "extra": st.integers(),
    },
)


@FAST
@given(st.lists(task_dicts, max_size=4))
def test_random_task_sets_give_a_model_or_a_task_error(tasks: list[dict[str, object]]) -> None:
    try:
        specs = [TaskSpec.from_dict(task) for task in tasks]
        for spec in specs:
            assert "/" not in spec.name and not spec.name.startswith(".") and "\n" not in spec.name
        model = GraphFTModel(tiny_backbone("bert"), specs, _config(learner="none"))
    except TaskError as exc:
        assert str(exc)
        return
    assert model.task_names == [spec.name for spec in specs] and len(set(model.task_names)) == len(specs)
