"""Training checkpoints: exact resume (in-process and after SIGKILL), atomic layout, typed errors on bad files."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch

from graphft.backbones import tiny_backbone
from graphft.checkpoint import MANIFEST, MODEL_FILE, OPTIMIZER_FILE, latest_checkpoint, list_checkpoints
from graphft.errors import CheckpointError, ConfigError
from graphft.io import model_state
from graphft.model import GraphFTModel
from graphft.training import train
from tests.training_worker import build_run

ROOT = Path(__file__).resolve().parent.parent


def _assert_same_tensors(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    different = [name for name in first if not torch.equal(first[name], second[name])]
    assert not different, different


@pytest.fixture(scope="module")
def uninterrupted() -> tuple[dict[str, torch.Tensor], list[dict[str, object]], list[dict[str, object]]]:
    """Final tensors, history and evaluations of an uninterrupted 12-step run."""
    model, data = build_run(steps=12)
    result = train(model, data, log_every=1)
    return model_state(model), result.history, result.evaluations


def test_resume_in_process_is_bit_identical(tmp_path: Path, uninterrupted: tuple) -> None:
    weights, history, evaluations = uninterrupted
    model, data = build_run(steps=12, checkpoint_every=3)
    train(model, data, log_every=1, checkpoint_dir=tmp_path)
    assert [path.name for path in list_checkpoints(tmp_path)] == [f"step-{s:08d}" for s in (3, 6, 9, 12)]
    for path in list_checkpoints(tmp_path)[2:]:  # pretend the run died after step 6
        shutil.rmtree(path)
    model, data = build_run(steps=12, checkpoint_every=3)
    result = train(model, data, log_every=1, checkpoint_dir=tmp_path, resume=True)
    _assert_same_tensors(weights, model_state(model))
    assert result.history == history and result.evaluations == evaluations


def test_resume_after_sigkill_is_bit_identical(tmp_path: Path, uninterrupted: tuple) -> None:
    weights, history, _ = uninterrupted
    checkpoints, out = tmp_path / "checkpoints", tmp_path / "out"
    command = [sys.executable, "-m", "tests.training_worker", "--steps", "12", "--checkpoint-every", "2"]
    command += ["--checkpoint-dir", str(checkpoints), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([*command, "--sleep", "0.15"], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while latest_checkpoint(checkpoints) is None and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert latest_checkpoint(checkpoints) is not None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(random.Random().uniform(0.0, 0.6))  # kill at a random step after the first checkpoint
        assert process.poll() is None, "the run finished before it could be killed; raise --sleep"
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    killed_at = int(latest_checkpoint(checkpoints).name.split("-")[1])  # type: ignore[union-attr]
    assert 2 <= killed_at < 12
    resumed = subprocess.run([*command, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_tensors(weights, safetensors.torch.load_file(str(out / "final.safetensors")))
    assert json.loads((out / "history.json").read_text())["history"] == history


def _checkpoint(tmp_path: Path) -> Path:
    model, data = build_run(steps=2, checkpoint_every=1)
    train(model, data, checkpoint_dir=tmp_path)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.name == "step-00000002"
    return checkpoint


def _resume(tmp_path: Path) -> None:
    model, data = build_run(steps=4, checkpoint_every=1)
    train(model, data, checkpoint_dir=tmp_path, resume=True)


def test_truncated_and_corrupted_files_are_named(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path)
    weights = checkpoint / MODEL_FILE
    original = weights.read_bytes()
    weights.write_bytes(original[:200])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupted.*delete"):
        _resume(tmp_path)
    flipped = bytearray(original)
    flipped[-1] ^= 0xFF
    weights.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupted"):
        _resume(tmp_path)
    (checkpoint / OPTIMIZER_FILE).unlink()
    weights.write_bytes(original)
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors is missing"):
        _resume(tmp_path)


def test_hash_matching_but_unreadable_tensor_file_is_a_checkpoint_error(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path)
    (checkpoint / MODEL_FILE).write_bytes(b"not a safetensors file")
    manifest = json.loads((checkpoint / MANIFEST).read_text())
    import hashlib

    manifest["sha256"][MODEL_FILE] = hashlib.sha256(b"not a safetensors file").hexdigest()
    (checkpoint / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"model\.safetensors cannot be read.*truncated or corrupted"):
        _resume(tmp_path)


def test_other_format_version_and_bad_manifest(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path)
    manifest = json.loads((checkpoint / MANIFEST).read_text())
    (checkpoint / MANIFEST).write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(CheckpointError, match=r"trainer\.json has checkpoint format version 99.*graphft version"):
        _resume(tmp_path)
    (checkpoint / MANIFEST).write_text("{not json")
    with pytest.raises(CheckpointError, match=r"trainer\.json is not valid JSON"):
        _resume(tmp_path)


def test_checkpoint_of_another_backbone_is_refused(tmp_path: Path) -> None:
    _checkpoint(tmp_path)
    _, data = build_run(steps=4)
    model = GraphFTModel(tiny_backbone("gpt2"), data.specs, build_run(steps=4)[0].config)
    with pytest.raises(CheckpointError, match=r"trainer\.json was written for another backbone.*BertModel"):
        train(model, data, checkpoint_dir=tmp_path, resume=True)
    model = GraphFTModel(tiny_backbone("bert", hidden_size=16), data.specs, build_run(steps=4)[0].config)
    with pytest.raises(CheckpointError, match="hidden_size is 32, the model's is 16"):
        train(model, data, checkpoint_dir=tmp_path, resume=True)


def test_checkpoint_of_another_config_is_refused(tmp_path: Path) -> None:
    _checkpoint(tmp_path)
    model, data = build_run(steps=4)
    model.config.training.lr_heads = 0.5
    with pytest.raises(CheckpointError, match=r"differs in training\.lr_heads.*config it was trained with"):
        train(model, data, checkpoint_dir=tmp_path, resume=True)


def test_leftover_temporary_directories_are_ignored_and_cleaned(tmp_path: Path) -> None:
    (tmp_path / ".tmp-step-00000007.abc").mkdir()  # a save killed mid-write
    assert latest_checkpoint(tmp_path) is None
    checkpoint = _checkpoint(tmp_path)
    assert not list(tmp_path.glob(".tmp-*"))
    assert sorted(path.name for path in checkpoint.iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "rng.safetensors",
        "trainer.json",
    ]
    manifest = json.loads((checkpoint / MANIFEST).read_text())
    assert set(manifest["sha256"]) == {"model.safetensors", "optimizer.safetensors", "rng.safetensors"}
    assert manifest["backbone"]["layer_names"] and manifest["step"] == 2


def test_resume_without_a_directory_is_a_config_error() -> None:
    model, data = build_run(steps=1)
    with pytest.raises(ConfigError, match="needs checkpoint_dir"):
        train(model, data, resume=True)


def test_only_the_newest_checkpoints_are_kept(tmp_path: Path) -> None:
    model, data = build_run(steps=3, checkpoint_every=1)
    model.config.training.keep_checkpoints = 2
    train(model, data, checkpoint_dir=tmp_path)
    assert [path.name for path in list_checkpoints(tmp_path)] == ["step-00000002", "step-00000003"]


def test_resuming_past_the_last_step_is_refused(tmp_path: Path) -> None:
    _checkpoint(tmp_path)
    model, data = build_run(steps=1)
    with pytest.raises(CheckpointError, match=r"at step 2, beyond training\.steps=1; raise steps"):
        train(model, data, checkpoint_dir=tmp_path, resume=True)
