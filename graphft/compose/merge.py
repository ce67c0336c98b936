"""Merging a task's composed adapter into the base weights, for inference at the base model's speed.

Axis legend: l target layers, k modules, i in features, o out features.

Merging task t adds, to every adapted layer's base weight, the dense update of its deterministic path:

.. math::
    W \\leftarrow W + s \\sum_k w_{t,l,k} A_k B_k

While merged, :meth:`GraphFTModel.forward` runs the plain backbone (the banks add nothing) and accepts only
batches of the merged task, in evaluation mode. :func:`unmerge` subtracts the same update again.
"""

from __future__ import annotations

from graphft.compose.paths import task_path
from graphft.errors import AdapterError
from graphft.model import GraphFTModel

__all__ = ["merge_task", "unmerge"]


def merge_task(model: GraphFTModel, name: str) -> None:
    """Fold task ``name``'s deterministic path into the base weights of every adapted layer.

    Raises:
        RoutingError: unknown task.
        AdapterError: the model is already merged (unmerge first).
    """
    if model.banks.merged:
        held = model.merged_task or "an unnamed module mix"
        raise AdapterError(f"the model is already merged for {held!r}; call model.unmerge() before merging {name!r}.")
    path = task_path(model, name)  # (l, k); raises RoutingError for unknown tasks
    model.banks.merge({layer: path[index] for index, layer in enumerate(model.layer_names)})
    model.merged_task = name


def unmerge(model: GraphFTModel) -> None:
    """Subtract the merged task's update again (the base weights come back within float32 rounding).

    Raises:
        AdapterError: the model is not merged.
    """
    if not model.banks.merged:
        raise AdapterError("the model is not merged; nothing to unmerge (merge with model.merge_task(name)).")
    model.banks.unmerge()
    model.merged_task = None
