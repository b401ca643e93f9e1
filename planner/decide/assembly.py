"""The cost assembly: each option's one-time cost, time to production and fleet from their parts.

One copy, used twice: `compare()` calls these with numbers and Bands at the scenario's
values, and the Monte Carlo engine (planner.uncertainty) with arrays of sampled inputs.
They use only + and *, so a float, a Band or a numpy array goes through the same formula.
"""
from __future__ import annotations

from ..core.units import DAYS_PER_MONTH
from .costmodel import FleetCostModel

MONTHS_PER_YEAR = 12.0


def staff_usd(people, months, usd_per_engineer_year):
    """People x months at a loaded cost per engineer-year."""
    return people * months / MONTHS_PER_YEAR * usd_per_engineer_year


def ops_monthly_usd(ops_engineers, usd_per_engineer_year):
    """The monthly cost of the engineers who run a self-hosted fleet."""
    return ops_engineers * usd_per_engineer_year / MONTHS_PER_YEAR


def self_host_one_time_usd(*, finetune_usd, evaluation_usd, ops_engineers, setup_months, usd_per_engineer_year):
    """Fine-tuning compute + evaluation + the ops team's time setting up before production."""
    return finetune_usd + evaluation_usd + staff_usd(ops_engineers, setup_months, usd_per_engineer_year)


def self_host_months_to_production(*, finetune_wall_days, setup_months):
    """The fine-tune's wall-clock, then the setup months."""
    return finetune_wall_days * (1 / DAYS_PER_MONTH) + setup_months


def scratch_one_time_usd(*, compute_usd, researchers, months, usd_per_engineer_year, evaluation_usd):
    """Pretraining compute + the research team + evaluation."""
    return compute_usd + staff_usd(researchers, months, usd_per_engineer_year) + evaluation_usd


def scratch_months_to_production(*, wall_days, prep_months):
    """Preparation, then the pretraining run's wall-clock."""
    return wall_days * (1 / DAYS_PER_MONTH) + prep_months


def fleet_model(*, capacity_rps_per_replica, gpus_per_replica, usd_per_gpu_hour, utilization_ceiling, min_replicas,
                ops_engineers, usd_per_engineer_year, one_time_usd, months_to_production) -> FleetCostModel:
    """A self-hosted fleet's cost model: rented replicas plus the ops team, after a one-time cost."""
    return FleetCostModel(capacity_rps_per_replica=capacity_rps_per_replica, gpus_per_replica=gpus_per_replica,
                          usd_per_gpu_hour=usd_per_gpu_hour, utilization_ceiling=utilization_ceiling,
                          min_replicas=min_replicas,
                          fixed_monthly_usd=ops_monthly_usd(ops_engineers, usd_per_engineer_year),
                          one_time_usd=one_time_usd, months_to_production=months_to_production)
