"""Hardware sourcing, energy and carbon, and the scratch programme as text: shared by the CLI, the report and
the dashboard, so each prints the same figures. Numbers come from the Comparison; this module only words them."""
from __future__ import annotations

import pandas as pd

from ..core.units import DAYS_PER_MONTH, usd
from ..decide.generations import PREFIX as GENERATION
from ..decide.sourcing import is_owned
from . import formatting as fmt

POLICY_MEANING = {
    "match": "like for like: as many tokens as the open model it replaces was trained on, so the options compare "
             "at a similar amount of training (data quality is not modelled)",
    "chinchilla": "compute-optimal for loss, not for inference cost: open models of this size are trained on "
                  "far more tokens, so this buys a weaker model than the one it is compared with",
    "tokens": "as given in the scenario",
    "tokens_per_param": "as given in the scenario (a ratio of tokens to active parameters)",
}
# scratch cost component -> the programme figure behind it (scenario [programme] overrides)
_COMPONENT_FACT = {"ablations and experiments": "ablation_fraction", "failed and restarted runs": "failed_run_fraction",
                   "post-training compute": "post_training_compute_fraction",
                   "data pipeline compute": "data_pipeline_gpu_hours_per_ttok", "data engineers": "data_engineers",
                   "data licences": "data_acquisition_usd", "post-training data": "post_training_data_usd"}


def _mwh(b) -> str:
    if b is None:
        return fmt.NA
    return fmt.amount(b.p50) if b.p90 - b.p10 <= 1e-3 * abs(b.p50) else fmt.band(b, fmt.amount)


def energy_frame(c) -> pd.DataFrame:
    """One row per option: energy and carbon over the horizon, the training runs, serving per month."""
    rows = []
    for o in c.options.values():
        e = o.energy if o.available else None
        serving = e.serving_mwh if e is not None else None
        rows.append({"Option": o.label, "Energy MWh": _mwh(o.energy_mwh if o.available else None),
                     "tCO2e": _mwh(o.co2e_t if o.available else None),
                     "Training MWh": _mwh(e.one_time_mwh) if e is not None else fmt.NA,
                     "Serving MWh/month (first, last)": f"{fmt.amount(serving[0])}, {fmt.amount(serving[-1])}"
                     if serving else fmt.NA,
                     "Counted": e.note if e is not None else (o.reason_unavailable or "unknown")})
    return pd.DataFrame(rows)


def sourcing_frame(c) -> pd.DataFrame:
    """One row per self-hosted use: the GPU, its sourcing, and what a GPU-hour costs."""
    names = {"self_host": "serving (both self-hosted options)", "self_host_training": "fine-tuning",
             "scratch_training": "pretraining programme"}
    rows = []
    for key, r in c.rates.items():
        extra = []
        if r.usd_per_busy_gpu_hour:
            extra.append(f"+ {usd(r.usd_per_busy_gpu_hour)} per GPU-hour of work (electricity above idle)")
        if r.time_factor != 1:
            extra.append(f"x{r.time_factor:g} GPU-hours and days for interruptions")
        if r.term_hours:
            extra.append(f"a reserved GPU is billed {r.term_hours:,.0f} h, used or not")
        if r.fleet_factor != 1:
            extra.append(f"holds {r.fleet_factor:.2f} GPUs per GPU needed")
        rows.append({"Use": names.get(key, key), "GPU": r.gpu, "Sourcing": r.sourcing,
                     "On-demand $/GPU-hour": usd(r.on_demand_usd_per_gpu_hour),
                     "$/GPU-hour held": usd(r.usd_per_gpu_hour), "Notes": "; ".join(extra)})
    return pd.DataFrame(rows, columns=["Use", "GPU", "Sourcing", "On-demand $/GPU-hour", "$/GPU-hour held", "Notes"])


def owned_parts_frame(c) -> pd.DataFrame | None:
    """An owned self-host GPU-hour by part, or None when the self-host GPUs are rented."""
    r = c.rates.get("self_host")
    if r is None or not is_owned(r.sourcing):
        return None
    return pd.DataFrame([{"Part": k, "$/GPU-hour": usd(v)} for k, v in r.parts.items()])


def generation_lines(c) -> list[str]:
    """The hardware generation the comparison used (decide/generations.py): the successor, a move, the resale curve."""
    def line(a):
        name = a.name.removeprefix(GENERATION)
        return f"{name[:1].upper()}{name[1:]}: {fmt.number(a.value) if isinstance(a.value, float) else a.value}"
    return [line(a) for a in c.assumptions if a.name.startswith(GENERATION)]


def rent_or_own_lines(r) -> list[str]:
    """When owning the self-host GPU pays: months at full use, and the use at which it wins over its life."""
    if r is None:
        return ["No server price for the self-host GPU in the catalog: give [hardware] usd_per_server (and "
                "gpus_per_server, server_watts, servers_per_rack, network_usd_per_rack) to see when owning pays."]
    months = (f"owning becomes cheaper after {r.months_to_break_even:.1f} months"
              if r.months_to_break_even is not None else "renting stays cheaper however long it is used")
    if r.resale_note:
        m = r.months_to_break_even_resold
        months += ("; " + (f"with the GPU then {r.resale_note}, owning is cheaper " + (
            "from the first month" if m == 0 else f"once it is held {m:.1f} months or more") if m is not None else
                           f"with the GPU then {r.resale_note}, renting stays cheaper over ten years"))
    use = (f"Over {r.depreciation_years:g} years (straight-line depreciation) owning wins once the GPU works more than "
           f"{r.break_even_utilisation:.0%} of the hours" if r.break_even_utilisation is not None
           else f"Over {r.depreciation_years:g} years owning never beats renting on demand, even at full use")
    return [f"Buying a {r.gpu} costs {usd(r.purchase_usd_per_gpu)} per GPU (its share of the server and the rack's "
            f"network), then {usd(r.owned_running_usd_per_month)} a month at full use (colocation, hardware staff, "
            f"electricity). Against {r.rental} rent at {usd(r.rent_usd_per_gpu_hour)}/GPU-hour, used around the "
            f"clock, {months}.",
            f"{use} (renting on demand bills only those hours). Set [self_host] sourcing = \"owned\" to cost the fleet "
            "this way."]


def token_policy_lines(budget, policies=()) -> list[str]:
    """Which token policy the scratch option used, what it implies, and its cost at the other policies."""
    lines = [f"Token policy **{budget.policy}**: {fmt.count(budget.tokens)} tokens "
             f"({budget.tokens_per_param:,.0f} per active parameter), {budget.basis}. "
             f"{POLICY_MEANING.get(budget.policy, '').capitalize()}."]
    if budget.warning:
        lines.append(f"Warning: {budget.warning}.")
    others = [p for p in policies if not p.chosen]
    if others:
        lines.append("At the other policies: " + "; ".join(
            f"{p.policy} ({fmt.count(p.tokens)} tokens) {usd(p.one_time_usd)} one-time, "
            f"{p.months_to_production:.1f} months to production" for p in others)
            + f" (this scenario: {usd(policies[0].one_time_usd)}, {policies[0].months_to_production:.1f} months).")
    return lines


def programme_frame(c) -> pd.DataFrame:
    """The scratch option's one-time cost by component (p50), each with the figure and source behind it and the
    months it is paid in (assembly.scratch_spends: what the cumulative curve uses)."""
    sc = c.scratch_costs
    if sc is None:
        return pd.DataFrame(columns=["Component", "Cost (p50)", "Paid (months)", "Basis", "Source"])
    paid = {x.what: _months(x.start_month, x.end_month) for x in sc.spends}
    facts = {a.name.removeprefix("programme."): a for a in sc.assumptions if a.name.startswith("programme.")}
    s = c.pretrain
    basis = {"final run compute": (f"{fmt.band(sc.run_gpu_hours, fmt.count)} GPU-hours on {s.n_gpus:,} x {s.gpu} "
                                   f"at {usd(sc.rate.usd_per_gpu_hour)}/GPU-hour ({sc.rate.sourcing})",
                                   "planner.pretraining (the layout search and performance model)"),
             "reserved term unused": ("a reservation bills its whole term", "decide/sourcing.py"),
             "research staff": ("[scratch] researchers x months at the loaded cost per engineer-year", "scenario"),
             "evaluation": ("[scratch] evaluation_usd", "scenario")}
    rows = []
    for k, v in sc.parts.items():
        if k in _COMPONENT_FACT:
            a = facts[_COMPONENT_FACT[k]]
            b = fmt.band(a.value, usd) if a.unit == "$" else f"{fmt.band(a.value, fmt.quantity)} {a.unit}"
            src = a.source
        else:
            b, src = basis.get(k, ("", ""))
        rows.append({"Component": k, "Cost (p50)": usd(v), "Paid (months)": paid.get(k, ""), "Basis": b, "Source": src})
    return pd.DataFrame(rows)


def _months(start: float, end: float) -> str:
    return f"at {start:.1f}" if end <= start else f"{start:.1f}-{end:.1f}"


def published_lines(c) -> list[str]:
    """Published runs of the architecture the scratch option trains, against this estimate of its final run."""
    from ..catalog.published import published_runs
    sc = c.scratch_costs
    if sc is None:
        return []
    est = sc.pretrain
    return [f"Published: {r.name}, {fmt.count(r.gpu_hours)} {r.gpu}-hours for {fmt.count(r.tokens)} tokens "
            f"({r.source}); this estimate of the final run: {fmt.band(sc.run_gpu_hours, fmt.count)} {est.gpu}-hours "
            f"for {fmt.count(est.tokens)} tokens." for r in published_runs() if r.model == est.model]


def calendar_line(c) -> str:
    """The scratch option's months to production, by phase."""
    sc = c.scratch_costs
    if sc is None:
        return ""
    total, run, after = sc.months_to_production.p50, sc.wall_days.p50 / DAYS_PER_MONTH, sc.after_months.p50
    return (f"Calendar: {total:.1f} months to production = preparation, data and ablations ({total - run - after:.1f}) "
            f"+ the final run ({run:.1f}, on {sc.pretrain.n_gpus:,} GPUs) + post-training and evaluation ({after:.1f}).")
