"""The report's sections on hardware sourcing, energy and carbon, and the train-from-scratch programme."""
from __future__ import annotations

from ..core.errors import PlannerError
from ..decide.scratch import policy_costs
from . import costs_text as ct
from . import formatting as fmt


def hardware_section(c) -> str:
    """Sourcing of each self-hosted use, an owned GPU-hour by part, rent or own, energy and carbon per option."""
    out = ["How each self-hosted use gets its GPUs ([self_host] and [scratch] sourcing; prices in "
           "planner/catalog/data/sourcing.toml, overridden by [hardware]):"]
    sourcing = ct.sourcing_frame(c)
    out.append(fmt.markdown_table(sourcing) if len(sourcing) else "No self-hosted option is available.")
    owned = ct.owned_parts_frame(c)
    if owned is not None:
        out += ["An owned GPU-hour, by part:", fmt.markdown_table(owned)]
    gen = ct.generation_lines(c)
    out += ["### Hardware generation", "\n".join(f"- {fmt.md_inline(x)}" for x in gen)] if gen else []
    out += ["### Rent or own", *ct.rent_or_own_lines(c.rent_or_own),
            "### Energy and carbon", fmt.markdown_table(ct.energy_frame(c)),
            "Energy is each GPU-hour's (GPU + host) watts x PUE; carbon is that energy at the grid intensity of "
            "[hardware] region (or grid_gco2e_per_kwh). The hosted API counts only what its provider publishes: "
            "n/a means no figure is published, not zero."]
    return "\n\n".join(out)


def _inert(line: str, bold: str = "") -> str:
    """A line of planner text that may quote the user's names (a model's), as Markdown text; `bold`, the planner's
    own emphasis, kept."""
    text = fmt.md_inline(line)
    return text.replace(fmt.md_inline(f"**{bold}**"), f"**{bold}**") if bold else text


def scratch_section(c, s) -> str:
    """The token policy (and the other policies' cost in one line), the programme's costs and its calendar."""
    sc = c.scratch_costs
    if sc is None:
        return _inert(f"Not estimated: {c.options['scratch'].reason_unavailable}")
    try:
        policies = policy_costs(s, sc)
    except PlannerError as e:  # an alternative that does not fit: say so, keep the rest
        policies = ()
        note = [f"(The cost at the other token policies could not be estimated: {e}.)"]
    else:
        note = []
    return "\n\n".join([*(_inert(x, sc.budget.policy) for x in ct.token_policy_lines(sc.budget, policies)),
                        *map(_inert, note),
                        "What the programme pays, besides the final run (each figure a band from "
                        "planner/catalog/data/programme.toml or [programme] in the scenario; p50 shown):",
                        fmt.markdown_table(ct.programme_frame(c)), _inert(ct.calendar_line(c)),
                        *map(_inert, ct.published_lines(c))])
