"""New-task composition (zero-shot, few-shot), merging a task into the base weights, and export to PEFT."""

from graphft.compose.export import export_peft, load_exported_head, peft_layer_kind
from graphft.compose.few_shot import fit_new_task
from graphft.compose.merge import merge_task, unmerge
from graphft.compose.new_task import AddedTask, add_task
from graphft.compose.paths import task_path

__all__ = [
    "AddedTask",
    "add_task",
    "export_peft",
    "fit_new_task",
    "load_exported_head",
    "merge_task",
    "peft_layer_kind",
    "task_path",
    "unmerge",
]
