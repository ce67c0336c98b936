"""One target layer wrapped with a bank of K low-rank modules.

Axis legend (used in every shape and einops pattern below):
    b batch, n tokens, i in features, o out features, k modules, r rank.

The wrapped layer computes

    y = W x + s * sum_k w_k B_k A_k dropout(x),    s = alpha / r,

with ``A`` of shape (k, i, r), ``B`` of shape (k, r, o) and module weights ``w`` given for the whole batch
(k), per example (b, k) or per token (b, n, k). The K modules are contracted in one batched matrix product
over the concatenated (k r) axis; modules whose weight is zero for the whole batch are left out of it.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange, repeat
from torch import Tensor, nn
from transformers.pytorch_utils import Conv1D

from graphft.errors import AdapterError

__all__ = ["AdapterBank", "adaptable_layer_types", "layer_features"]


def adaptable_layer_types() -> tuple[type[nn.Module], ...]:
    """Layer classes graphft can wrap: ``torch.nn.Linear`` and transformers' GPT-2 ``Conv1D``."""
    return (nn.Linear, Conv1D)


def layer_features(layer: nn.Module) -> tuple[int, int]:
    """(in features, out features) of a Linear or Conv1D layer.

    Conv1D stores its weight as (i, o) and computes ``x @ W + b``; Linear stores (o, i).
    """
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    if isinstance(layer, Conv1D):
        in_features, out_features = layer.weight.shape
        return int(in_features), int(out_features)
    raise AdapterError(
        f"cannot adapt a {type(layer).__name__}; graphft adapts torch.nn.Linear and transformers Conv1D layers."
    )


class AdapterBank(nn.Module):
    """A frozen base layer plus a bank of ``num_modules`` low-rank modules mixed by module weights.

    ``B`` starts at zero, so the wrapped layer equals the base layer exactly until training moves it. When no
    module weights are set (:meth:`set_module_weights`), the bank is inactive and the layer is the base layer.

    Args:
        base_layer: the ``nn.Linear`` or ``Conv1D`` to wrap; it is kept as is (its parameters are not copied).
        num_modules: K, the number of modules.
        rank: r, the rank of each module.
        alpha: scaling numerator; module outputs are scaled by ``alpha / rank``.
        dropout: dropout probability on the adapter input.

    Shapes:
        - input: (b, n, i) or (b, i)
        - lora_A: (k, i, r); lora_B: (k, r, o)
        - module weights: (k), (b, k) or (b, n, k)
        - output: like the input with i replaced by o
    """

    def __init__(
        self, base_layer: nn.Module, num_modules: int, rank: int, alpha: float = 16.0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if num_modules <= 0 or rank <= 0:
            raise AdapterError(f"num_modules and rank must be positive, got {num_modules} and {rank}.")
        in_features, out_features = layer_features(base_layer)
        self.base_layer = base_layer
        self.num_modules = num_modules
        self.rank = rank
        self.scaling = alpha / rank
        self.in_features = in_features
        self.out_features = out_features
        weight: Tensor = base_layer.weight  # type: ignore[assignment]
        device, dtype = weight.device, weight.dtype
        self.lora_A = nn.Parameter(torch.empty(num_modules, in_features, rank, device=device, dtype=dtype))
        self.lora_B = nn.Parameter(torch.zeros(num_modules, rank, out_features, device=device, dtype=dtype))
        self.dropout: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self._module_weights: Tensor | None = None
        self._active_modules: Tensor | None = None
        self.merged_weights: Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """A ~ U(-1/sqrt(i), 1/sqrt(i)) (nn.Linear's default for the down projection), B = 0."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.lora_A.uniform_(-bound, bound)
            self.lora_B.zero_()

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"num_modules={self.num_modules}, rank={self.rank}, scaling={self.scaling:g}"
        )

    # ----------------------------------------------------------------------------------------- routing state
    def set_module_weights(
        self, weights: Tensor | None, active_modules: Tensor | None = None, check: bool = True
    ) -> None:
        """Set the module weights the next forward passes use (``None`` makes the bank inactive).

        Args:
            weights: (k), (b, k) or (b, n, k) module weights.
            active_modules: optional sorted indices (a) of the modules with a non-zero weight somewhere in the
                batch. Given, the bank computes only these modules; omitted, it finds them itself (one
                host-device synchronisation on accelerators).
            check: validate shape and finiteness (a synchronisation on accelerators; callers that built the
                weights themselves pass ``False``).

        Raises:
            AdapterError: weights of the wrong shape or with NaN/inf, or the bank is merged.
        """
        if self.merged_weights is not None and weights is not None:
            raise AdapterError(
                "this adapter bank is merged into its base layer; call unmerge() before setting module weights."
            )
        if weights is not None and check:
            if weights.ndim not in (1, 2, 3) or weights.shape[-1] != self.num_modules:
                raise AdapterError(
                    f"module weights must have shape (k), (b, k) or (b, n, k) with k={self.num_modules}, "
                    f"got {tuple(weights.shape)}."
                )
            if not bool(torch.isfinite(weights).all()):
                raise AdapterError("module weights contain NaN or inf; check the router or the weights you pass.")
        self._module_weights = weights
        self._active_modules = active_modules

    @property
    def module_weights(self) -> Tensor | None:
        """The module weights set for the next forward pass, or ``None`` when the bank is inactive."""
        return self._module_weights

    # ----------------------------------------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        """``W x`` plus the weighted module outputs.

        Shapes:
            - x: (b, n, i) or (b, i)
            - returns: (b, n, o) or (b, o)
        """
        result: Tensor = self.base_layer(x)
        weights = self._module_weights
        if weights is None:
            return result
        return result + self.delta(x, weights, self._active_modules).to(result.dtype)

    def delta(self, x: Tensor, weights: Tensor, active_modules: Tensor | None = None) -> Tensor:
        """The adapter's contribution ``s * sum_k w_k B_k A_k dropout(x)``.

        Args:
            x: (b, n, i) or (b, i) layer input.
            weights: (k), (b, k) or (b, n, k) module weights.
            active_modules: optional indices (a) of the modules to compute; the others must weigh zero.

        Returns:
            (b, n, o) or (b, o), in the adapter's dtype.
        """
        lora_a: Tensor = self.lora_A
        lora_b: Tensor = self.lora_B
        if active_modules is None and not weights.requires_grad:
            active_modules = _nonzero_modules(weights)
        if active_modules is not None:
            if active_modules.numel() == 0:
                return x.new_zeros((*x.shape[:-1], self.out_features), dtype=lora_a.dtype)
            if active_modules.numel() < self.num_modules:
                lora_a, lora_b = lora_a[active_modules], lora_b[active_modules]
                weights = weights[..., active_modules]
        rank = self.rank
        down = rearrange(lora_a, "k i r -> i (k r)")
        up = rearrange(lora_b, "k r o -> (k r) o")
        h = self.dropout(x).to(down.dtype) @ down  # (b, n, (k r)) or (b, (k r))
        scaled = weights.to(h.dtype) * self.scaling
        if scaled.ndim == 1:  # one vector for the whole batch: fold it into B, no broadcast over tokens
            up = up * repeat(scaled, "k -> (k r) 1", r=rank)
        elif scaled.ndim == 2:  # per example
            per_example = repeat(scaled, "b k -> b (k r)", r=rank)
            h = h * (rearrange(per_example, "b kr -> b 1 kr") if h.ndim == 3 else per_example)
        else:  # per token
            if h.ndim != 3:
                raise AdapterError("per-token module weights (b, n, k) need a (b, n, i) input.")
            h = h * repeat(scaled, "b n k -> b n (k r)", r=rank)
        return h @ up

    # ------------------------------------------------------------------------------------- merge / unmerge
    def delta_weight(self, weights: Tensor) -> Tensor:
        """The dense weight update ``s * sum_k w_k A_k B_k`` of a fixed module mix.

        Shapes:
            - weights: (k)
            - returns: (i, o), in float32
        """
        lora_a = self.lora_A.detach().float()
        lora_b = self.lora_B.detach().float()
        mixed = torch.einsum("k,kir,kro->io", weights.detach().float().to(lora_a.device), lora_a, lora_b)
        return mixed * self.scaling

    def merge(self, weights: Tensor) -> None:
        """Fold a fixed module mix into the base weight (zero inference overhead until :meth:`unmerge`).

        Raises:
            AdapterError: already merged, or ``weights`` is not a finite (k) vector.
        """
        if self.merged_weights is not None:
            raise AdapterError("this adapter bank is already merged; call unmerge() before merging again.")
        if weights.shape != (self.num_modules,) or not bool(torch.isfinite(weights).all()):
            raise AdapterError(
                f"merge needs one finite weight per module, shape ({self.num_modules},), got {tuple(weights.shape)}."
            )
        self._add_to_base(self.delta_weight(weights), sign=1.0)
        self.merged_weights = weights.detach().clone()
        self._module_weights = None
        self._active_modules = None

    def unmerge(self) -> None:
        """Subtract the merged module mix again (restores the base weight within float32 rounding).

        Raises:
            AdapterError: the bank is not merged.
        """
        if self.merged_weights is None:
            raise AdapterError("this adapter bank is not merged; nothing to unmerge.")
        self._add_to_base(self.delta_weight(self.merged_weights), sign=-1.0)
        self.merged_weights = None

    def _add_to_base(self, delta_io: Tensor, sign: float) -> None:
        weight: Tensor = self.base_layer.weight  # type: ignore[assignment]
        delta = delta_io.T if isinstance(self.base_layer, nn.Linear) else delta_io  # Linear stores (o, i)
        with torch.no_grad():
            weight.copy_((weight.float() + sign * delta.to(weight.device)).to(weight.dtype))


def _nonzero_modules(weights: Tensor) -> Tensor | None:
    """Indices (a) of modules with a non-zero weight anywhere in ``weights``; ``None`` when all are active."""
    used = rearrange(weights != 0, "... k -> (...) k").any(dim=0)
    if bool(used.all()):
        return None
    return used.nonzero().flatten()
