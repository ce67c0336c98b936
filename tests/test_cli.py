"""The `graphft` command: train / eval / plot a run directory from YAML, overrides, errors, help."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from graphft.cli import main
from graphft.runs import read_metrics


def _write_tasks(folder: Path) -> list[dict]:
    rows = [
        (f"the service was {'great' if i % 2 else 'awful'} today {i}", "good" if i % 2 else "bad") for i in range(40)
    ]
    (folder / "service.csv").write_text(
        "body,verdict\n" + "".join(f'"{text}",{label}\n' for text, label in rows), encoding="utf-8"
    )
    topics = ["sports", "music"]
    lines = [
        json.dumps({"text": f"a story about {topics[i % 2]} number {i}", "label": topics[i % 2]}) for i in range(40)
    ]
    (folder / "topics.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return [
        {"name": "service", "path": str(folder / "service.csv"), "text_column": "body", "label_column": "verdict"},
        {"name": "topics", "path": str(folder / "topics.jsonl")},
    ]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    config = {
        "output_dir": str(folder / "run"),
        "data": {"tasks": _write_tasks(folder)},
        "model": {
            "num_hidden_layers": 1,
            "adapter": {"num_modules": 2, "rank": 2},
            "training": {"steps": 4, "batch_size": 8, "max_length": 16, "eval_every": 2, "progress": False},
        },
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", str(path), "--set", "model.training.steps=3"]) == 0
    return folder / "run"


def test_train_writes_a_complete_run_directory(run_dir: Path) -> None:
    for name in ("config.yaml", "metrics.jsonl", "test_metrics.json", "relation_matrix.png", "allocations.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "checkpoint" / "model.safetensors").is_file()
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["training"]["steps"] == 3  # the override was applied and recorded
    records = read_metrics(run_dir)
    assert [r["step"] for r in records if r["type"] == "validation"] == [2, 3]
    assert {"service", "topics", "average"} <= set(records[-1])


def test_eval_and_plot_reload_the_run(run_dir: Path) -> None:
    assert main(["eval", str(run_dir), "--split", "validation"]) == 0
    metrics = json.loads((run_dir / "validation_metrics.json").read_text())
    last = read_metrics(run_dir)[-1]
    assert metrics["average"]["metric"] == pytest.approx(last["average"]["metric"])  # same model, same data
    (run_dir / "training_curves.png").unlink(missing_ok=True)
    assert main(["plot", str(run_dir)]) == 0
    assert (run_dir / "training_curves.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--set", "model.trainng.steps=3", "--dry-run"], "Did you mean 'training'"),
        (["train", "--set", "model.training.steps=-1", "--dry-run"], "steps must be a positive integer"),
        (["train", "--set", "data.suite=text-99", "--set", "output_dir=/tmp/x", "--threads", "1"], "text-99"),
        (["train", "nope.yaml"], "does not exist"),
        (["train", "--set", "model.training", "--dry-run"], "must look like key=value"),
        (["eval", "/nonexistent/run"], "does not exist|missing"),
        (["data", "fetch", "python3-nothing"], "unknown data package"),
    ],
)
def test_bad_input_is_a_clear_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("command", ["data", "train", "eval", "plot", "compose", "export", "study", "sensitivity"])
def test_every_command_has_help_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "example" in capsys.readouterr().out or command == "data"


def test_compose_then_export_a_new_task(run_dir: Path, tmp_path: Path) -> None:
    rows = [(f"is the weather {'sunny' if i % 2 else 'rainy'} on day {i}", "yes" if i % 2 else "no") for i in range(60)]
    (tmp_path / "weather.csv").write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    grown = tmp_path / "grown"
    argv = ["compose", str(run_dir), "--task", "weather", "--path", str(tmp_path / "weather.csv")]
    assert main([*argv, "--shots", "16", "--steps", "3", "--output", str(grown)]) == 0
    summary = json.loads((grown / "compose.json").read_text())
    assert summary["examples"] == 16 and len(summary["fit_losses"]) == 3
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0
    saved = json.loads((grown / "checkpoint" / "graphft.json").read_text())
    assert [task["name"] for task in saved["tasks"]] == ["service", "topics", "weather"]
    assert main(["export", str(grown), "--task", "weather", "--output", str(tmp_path / "peft")]) == 0
    config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and (tmp_path / "peft" / "adapter_model.safetensors").is_file()


def test_study_runs_and_resumes_on_its_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import optuna

    storage = str(tmp_path / "study.db")
    argv = ["study", "--setting", "tiny", "--storage", storage, "--params", "router.gating_threshold"]
    assert main([*argv, "--trials", "2"]) == 0
    assert main([*argv, "--trials", "3"]) == 0  # resumes: one more trial, not three
    study = optuna.load_study(study_name="graphft", storage=f"sqlite:///{storage}")
    assert len(study.trials) == 3 and set(study.trials[0].params) == {"router.gating_threshold"}
    assert "3 trials" in capsys.readouterr().out
