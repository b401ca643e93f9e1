"""The cost assembly: each option's one-time cost, time to production and fleet from their parts.

One copy, used twice: `compare()` calls these with numbers and Bands at the scenario's
values, and the Monte Carlo engine (planner.uncertainty) with arrays of sampled inputs.
They use only + and * (and `at_least`, a floor for each of the three), so a float, a Band or a
numpy array goes through the same formula.

When the one-time costs are paid (`*_spends`, each a `Spend` over the months of its phase, which
costmodel.spend_schedule lays out by month). The calendar is the one behind the time to
production: the scratch programme prepares (data pipeline, ablations), runs the final run at its
layout's speed, post-trains, then evaluates; a self-hosted fine-tune runs, then the setup months.
Where the data say nothing the rules are judgement, each stated beside its line: compute and staff
are paid as they are used, purchases (data licences, post-training data) as a lump when their phase
starts, a reservation's unused term evenly over the term from the programme's start.
"""
from __future__ import annotations

import numpy as np

from ..core.band import Band
from ..core.units import DAYS_PER_MONTH
from .costmodel import FleetCostModel, Spend

MONTHS_PER_YEAR = 12.0
# Operations staff when [self_host] ops_engineers is not set: max(OPS_MIN_ENGINEERS, GPUs / GPUS_PER_OPS_ENGINEER).
# Roskies & Zacharia, "Designing and Supporting High-end Computational Facilities", CTWatch Quarterly 2(2), May 2006
# (http://www.ctwatch.org/quarterly/articles/2006/05/designing-and-supporting-high-end-computational-facilities/4/,
# checked 2026-12-07): HPC sites "add one FTE for roughly every 250 processors" (TeraGrid sites agree). Applying it
# to GPUs is judgement: no published GPUs-per-SRE figure for GPU clusters was found.
GPUS_PER_OPS_ENGINEER = 250.0
OPS_MIN_ENGINEERS = 1.0  # judgement: someone owns the serving stack and its on-call however small the fleet


def ops_rule(ops_engineers) -> tuple[float, float | None]:
    """(the staff floor, GPUs per engineer above it): a number set in the scenario is fixed staff (no scaling);
    None scales with the fleet."""
    return (OPS_MIN_ENGINEERS, GPUS_PER_OPS_ENGINEER) if ops_engineers is None else (ops_engineers, None)


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


def self_host_spends(*, finetune_usd, finetune_wall_days, evaluation_usd, ops_engineers, setup_months,
                     usd_per_engineer_year) -> tuple[Spend, ...]:
    """self_host_one_time_usd's parts when they are paid: the fine-tune over its wall-clock, then the setup
    staff over the setup months; evaluation (judgement) evenly over the setup months, after the fine-tune."""
    tuned = self_host_months_to_production(finetune_wall_days=finetune_wall_days, setup_months=0.0)
    ready = self_host_months_to_production(finetune_wall_days=finetune_wall_days, setup_months=setup_months)
    return (Spend("fine-tuning compute", finetune_usd, 0.0, tuned),
            Spend("evaluation", evaluation_usd, tuned, ready),
            Spend("setup staff", staff_usd(ops_engineers, setup_months, usd_per_engineer_year), tuned, ready))


def api_spends(*, integration_usd, months_to_production) -> tuple[Spend, ...]:
    """The API's integration, paid evenly over the months it takes (judgement: engineers' time)."""
    return (Spend("integration", integration_usd, 0.0, months_to_production),)


def at_least(x, floor):
    """max(x, floor) for a float, a Band (each percentile) or an array."""
    if isinstance(x, Band):
        return x.map(lambda v: max(v, floor))
    return np.maximum(x, floor)


def held_usd_per_gpu_hour(on_demand_usd, *, multiplier, owned_usd):
    """A GPU-hour held: rented, the on-demand price x (1 - discount) [/ spot availability]; owned, its own cost
    (the multiplier is then 0). See decide/sourcing.py."""
    return on_demand_usd * multiplier + owned_usd


def scratch_compute_usd(*, run_gpu_hours, experiments_fraction, pipeline_gpu_hours, usd_per_gpu_hour,
                        min_gpu_hours=0.0):
    """Every GPU-hour of the programme at the training rate: the final run x (1 + ablations, failed runs and
    post-training) + the data pipeline. A reservation bills at least its term (min_gpu_hours)."""
    return at_least(run_gpu_hours * (1 + experiments_fraction) + pipeline_gpu_hours, min_gpu_hours) * usd_per_gpu_hour


def scratch_one_time_usd(*, compute_usd, researchers, months, usd_per_engineer_year, evaluation_usd,
                         data_engineers=0.0, prep_months=0.0, fixed_usd=0.0):
    """The programme's compute + the research team + the data engineers while preparing + evaluation
    + fixed purchases (data licences, post-training data)."""
    return (compute_usd + staff_usd(researchers, months, usd_per_engineer_year)
            + staff_usd(data_engineers, prep_months, usd_per_engineer_year) + evaluation_usd + fixed_usd)


def scratch_months_to_production(*, wall_days, prep_months, after_months=0.0):
    """Preparation (data, ablations), then the final run's wall-clock, then post-training and evaluation."""
    return wall_days * (1 / DAYS_PER_MONTH) + prep_months + after_months


def scratch_spends(*, run_gpu_hours, ablation_fraction, failed_run_fraction, post_training_fraction,
                   pipeline_gpu_hours, usd_per_gpu_hour, min_gpu_hours, term_months, researchers, months,
                   usd_per_engineer_year, data_engineers, prep_months, wall_days, post_training_months,
                   evaluation_months, evaluation_usd, data_licences_usd, post_training_data_usd) -> tuple[Spend, ...]:
    """scratch_one_time_usd's parts when they are paid, on scratch_months_to_production's calendar.

    Preparation [0, prep]: ablations, the data pipeline's compute and the data engineers; the data licences as a
    lump at month 0 (judgement: bought before the pipeline runs). The final run [prep, prep + run at the layout's
    speed]: its compute and the failed and restarted runs. Post-training: its compute, its data as a lump at its
    start (judgement). Evaluation: its cost over the evaluation months. The research staff over their months from
    month 0. A reservation's unused term (at_least's floor less the GPU-hours used) evenly over the term from
    month 0 (judgement: the reservation is billed monthly and starts with the programme).
    """
    run_at = prep_months
    post_at = run_at + wall_days * (1 / DAYS_PER_MONTH)
    eval_at = post_at + post_training_months
    done = scratch_months_to_production(wall_days=wall_days, prep_months=prep_months,
                                        after_months=post_training_months + evaluation_months)
    hours = {"final run compute": run_gpu_hours, "ablations and experiments": run_gpu_hours * ablation_fraction,
             "failed and restarted runs": run_gpu_hours * failed_run_fraction,
             "post-training compute": run_gpu_hours * post_training_fraction,
             "data pipeline compute": pipeline_gpu_hours}
    used = sum(hours.values())
    hours["reserved term unused"] = at_least(used, min_gpu_hours) - used
    when = {"final run compute": (run_at, post_at), "ablations and experiments": (0.0, run_at),
            "failed and restarted runs": (run_at, post_at), "post-training compute": (post_at, eval_at),
            "data pipeline compute": (0.0, run_at), "reserved term unused": (0.0, term_months)}
    compute = tuple(Spend(k, h * usd_per_gpu_hour, *when[k]) for k, h in hours.items())
    return compute + (
        Spend("research staff", staff_usd(researchers, months, usd_per_engineer_year), 0.0, months),
        Spend("data engineers", staff_usd(data_engineers, prep_months, usd_per_engineer_year), 0.0, run_at),
        Spend("evaluation", evaluation_usd, eval_at, done),
        Spend("data licences", data_licences_usd, 0.0, 0.0),
        Spend("post-training data", post_training_data_usd, post_at, post_at))


def fleet_model(*, capacity_rps_per_replica, gpus_per_replica, usd_per_gpu_hour, utilization_ceiling, min_replicas,
                ops_engineers, usd_per_engineer_year, one_time_usd, months_to_production,
                usd_per_busy_gpu_hour=0.0, gpus_per_ops_engineer=None, spends=(), gpu_decline_per_year=0.0,
                gpu_term_months=0.0, **horizon) -> FleetCostModel:
    """A self-hosted fleet's cost model: replicas (rented or owned) plus the ops team, after a one-time cost
    (paid as `spends` says; none: at month 0).
    `ops_engineers`: the team (a floor when `gpus_per_ops_engineer` scales it with the fleet; see ops_rule).
    `gpu_decline_per_year`, `gpu_term_months`: the rent's price trend (costmodel.price_factor; 0: frozen).
    `horizon`: the hardware generation's fields (the move to the successor, owned resale; generations.py)."""
    return FleetCostModel(capacity_rps_per_replica=capacity_rps_per_replica, gpus_per_replica=gpus_per_replica,
                          usd_per_gpu_hour=usd_per_gpu_hour, utilization_ceiling=utilization_ceiling,
                          min_replicas=min_replicas,
                          fixed_monthly_usd=ops_monthly_usd(ops_engineers, usd_per_engineer_year),
                          one_time_usd=one_time_usd, months_to_production=months_to_production,
                          usd_per_busy_gpu_hour=usd_per_busy_gpu_hour, gpus_per_ops_engineer=gpus_per_ops_engineer,
                          usd_per_engineer_month=usd_per_engineer_year / MONTHS_PER_YEAR, spends=tuple(spends),
                          gpu_decline_per_year=gpu_decline_per_year, gpu_term_months=gpu_term_months, **horizon)
