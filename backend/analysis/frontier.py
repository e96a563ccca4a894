"""The analysis of budget points under one name, for callers that import it from here. Each concern lives in its own
module: points (the table and how pools and runs become points), curves (budget curves, frontier, winner map),
exchange (exchange rate, lifetime compute), allocation (compute-optimal allocation by difficulty), routing (think /
no-think routing and its FLOPs-matched baseline), selection (which models, runs and lines a comparison means)."""
from __future__ import annotations

from backend.analysis.allocation import allocate, allocation_curve, crossfit_allocation
from backend.analysis.curves import budget_curves, budget_grid, frontier, winner_map
from backend.analysis.exchange import exchange_rate, exchange_table, lifetime_table, small_vs_large_lifetime
from backend.analysis.points import (POOL_STRATEGIES, Points, collect_points, concat_points, default_ks,
                                     is_deployable, pool_points, result_points)
from backend.analysis.routing import mixture_at, routing_front
from backend.analysis.selection import MAIN_TEMPERATURE, at_main_temperature

__all__ = [
    "Points", "POOL_STRATEGIES", "MAIN_TEMPERATURE", "default_ks", "pool_points", "result_points", "concat_points",
    "collect_points", "is_deployable", "at_main_temperature", "budget_curves", "frontier", "budget_grid",
    "winner_map", "exchange_rate", "exchange_table", "allocate", "crossfit_allocation", "allocation_curve",
    "routing_front", "mixture_at", "lifetime_table", "small_vs_large_lifetime",
]
