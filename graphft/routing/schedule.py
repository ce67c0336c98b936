"""Routing-temperature annealing schedules."""

from __future__ import annotations

from graphft.config import RouterConfig

__all__ = ["temperature_at"]


def temperature_at(step: int, total_steps: int, config: RouterConfig) -> float:
    """The routing temperature at ``step`` of ``total_steps``.

    - ``exponential``: :math:`\\tau_0 (\\tau_{min}/\\tau_0)^{s/S}`
    - ``linear``: :math:`\\tau_0 + (\\tau_{min} - \\tau_0) s/S`
    - ``none``: :math:`\\tau_0`
    """
    start, end = config.routing_temperature, config.min_temperature
    progress = min(max(step / max(total_steps, 1), 0.0), 1.0)
    if config.anneal == "exponential":
        return float(start * (end / start) ** progress)
    if config.anneal == "linear":
        return float(start + (end - start) * progress)
    return float(start)
