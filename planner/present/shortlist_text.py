"""The self-host shortlist (models x GPUs searched) as text: shared by the CLI, the report and the dashboard."""
from __future__ import annotations

import pandas as pd

from ..core.units import usd
from . import formatting as fmt

COLUMNS = ["Model", "GPU", "Precision", "TP", "Replicas", "$/month (month 0)", "Total over horizon",
           "Meets targets"]


def shortlist_frame(c, *, why_chars: int = 160) -> pd.DataFrame:
    """One row per candidate, cheapest first: a failing one says why (cut to `why_chars`)."""
    rows = []
    for k in c.shortlist.candidates:
        why = k.why_not if len(k.why_not) <= why_chars else k.why_not[:why_chars - 3] + "..."
        rows.append({"Model": k.model, "GPU": k.gpu, "Precision": k.precision,
                     "TP": (f"{k.tensor_parallel} (DP attention)" if k.attention_dp else str(k.tensor_parallel))
                     if k.meets_targets else fmt.NA,
                     "Replicas": str(k.replicas) if k.meets_targets else fmt.NA,
                     "$/month (month 0)": usd(k.usd_per_month) if k.meets_targets else fmt.NA,
                     "Total over horizon": usd(k.total_usd) if k.meets_targets else fmt.NA,
                     "Meets targets": "yes" if k.meets_targets else f"no: {why}"})
    return pd.DataFrame(rows, columns=COLUMNS)


def shortlist_lines(c) -> list[str]:
    """What was searched and what won, in words."""
    sl = c.shortlist
    n_ok = sum(k.meets_targets for k in sl.candidates)
    models = len({k.model for k in sl.candidates})
    gpus = len({k.gpu for k in sl.candidates})
    head = f"Searched {len(sl.candidates)} candidates ({models} model(s) on {gpus} GPU(s)); {n_ok} meet the targets."
    if sl.chosen is None:
        return [head, "None meets the targets, so the self-hosted option is unavailable; each row says why."]
    k = sl.chosen
    return [head, f"Cheapest meeting the targets: {k.model} on {k.gpu} ({k.precision}, {k.tensor_parallel} GPU(s) "
                  f"per replica{', DP attention + EP' if k.attention_dp else ''}, {k.replicas} replicas), {usd(k.total_usd)} over the horizon. "
                  "Ranked by the self-hosted option's total (fleet, fine-tune on that GPU, staff, API bridge)."]


def precision_phrase(asked: str, plan) -> str:
    """The scenario's precision; "auto" says which format the search chose."""
    if asked != "auto":
        return asked
    return f"the cheapest precision meeting the targets ({plan.precision})" if plan else "the cheapest precision"


def self_hosted_phrase(c, h) -> str:
    """Option (b) in the report's question: the model, GPU and precision, or the shortlist searched."""
    if c.shortlist is None:
        return (f"{h.model} fine-tuned ({h.finetune_method}) and self-hosted on {h.gpu} at "
                f"{precision_phrase(h.precision, c.serving_plan)}")
    return (f"fine-tuned ({h.finetune_method}) and self-hosted: the cheapest of a shortlist of models x GPUs x "
            "precisions meeting the targets")


def shortlist_markdown(c) -> str:
    """The report's shortlist section: what was searched and won, then every candidate."""
    return "\n\n".join([" ".join(shortlist_lines(c)), fmt.markdown_table(shortlist_frame(c))])
