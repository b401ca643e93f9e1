"""`planner compare`'s text on the scratch programme (token policy, the other policies, its costs) and on
hardware sourcing, rent or own, energy and carbon: the same words as the report (costs_text.py)."""
from __future__ import annotations

from ..core.errors import PlannerError
from ..decide.scratch import policy_costs
from . import costs_text as ct
from .shortlist_text import shortlist_frame, shortlist_lines


def compare_sections(c, scenario, table, head) -> list[str]:
    """Text blocks for `planner compare` (table: the frame renderer, head: the heading style)."""
    out = []
    if c.shortlist is not None:
        out += [head("Self-host shortlist"), "\n".join(shortlist_lines(c)), table(shortlist_frame(c))]
    if c.scratch_costs is not None:
        try:
            policies = policy_costs(scenario, c.scratch_costs)
        except PlannerError:  # an alternative budget that fits no cluster: show the chosen one alone
            policies = ()
        lines = [line.replace("**", "") for line in ct.token_policy_lines(c.scratch_costs.budget, policies)]
        out += [head("Train from scratch"), "\n".join([*lines, ct.calendar_line(c), *ct.published_lines(c)]),
                table(ct.programme_frame(c).drop(columns="Source"))]
    out += [head("Hardware, energy and carbon")]
    if len(c.rates):
        out.append(table(ct.sourcing_frame(c)))
    owned = ct.owned_parts_frame(c)
    if owned is not None:
        out.append(table(owned))
    out += ["\n".join([*ct.generation_lines(c), *ct.rent_or_own_lines(c.rent_or_own)]), table(ct.energy_frame(c))]
    return out
