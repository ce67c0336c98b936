"""The path router: relaxed sampling, sparse gating, temperature schedules."""

from graphft.routing.gates import deterministic_weights, gate, relaxed_weights
from graphft.routing.router import Router, RoutingOutput
from graphft.routing.schedule import temperature_at

__all__ = ["Router", "RoutingOutput", "deterministic_weights", "gate", "relaxed_weights", "temperature_at"]
