"""A stack of PyG convolutions that turns task node features into node embeddings over a weighted graph.

Axis legend: v graph nodes, d embedding features, e edges.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv, GCNConv, TransformerConv

__all__ = ["ConvKind", "MessagePassingStack"]

ConvKind = Literal["gcn", "gatv2", "transformer"]
CONV_KINDS: tuple[str, ...] = ("gcn", "gatv2", "transformer")


class MessagePassingStack(nn.Module):
    """``num_layers`` residual PyG convolutions with GELU, then LayerNorm.

    :math:`h^{(l+1)} = h^{(l)} + \\mathrm{GELU}(\\mathrm{conv}(h^{(l)}))`.

    Edge weights enter GCNConv as ``edge_weight`` and GATv2Conv/TransformerConv as a 1-dimensional
    ``edge_attr``, so gradients reach the relation matrix through every kind.

    Args:
        dim: d, node embedding width (kept through the stack).
        num_layers: number of convolutions.
        conv: ``"gcn"``, ``"gatv2"`` or ``"transformer"``.

    Shapes:
        - x: (v, d); edge_index: (2, e); edge_weight: (e)
        - returns: (v, d)
    """

    def __init__(self, dim: int, num_layers: int = 2, conv: ConvKind = "gcn") -> None:
        super().__init__()
        if conv not in CONV_KINDS:
            raise ValueError(f"unknown conv {conv!r}; use one of {', '.join(CONV_KINDS)}.")
        self.conv_kind = conv
        layers: list[nn.Module] = []
        for _ in range(num_layers):
            if conv == "gcn":
                layers.append(GCNConv(dim, dim, add_self_loops=True, normalize=True))
            elif conv == "gatv2":
                layers.append(GATv2Conv(dim, dim, heads=1, edge_dim=1, add_self_loops=True))
            else:
                layers.append(TransformerConv(dim, dim, heads=1, edge_dim=1, root_weight=True))
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        for layer in self.layers:
            if self.conv_kind == "gcn":
                update = layer(x, edge_index, edge_weight)
            else:
                update = layer(x, edge_index, edge_attr=edge_weight.unsqueeze(-1))
            x = x + nn.functional.gelu(update)
        return self.norm(x)
