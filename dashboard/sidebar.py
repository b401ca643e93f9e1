"""The sidebar: every input of the scenario, plus loading and saving scenario files.

Widgets take their values from st.session_state (filled from a scenario by
`state.widget_values`), never from a `value=` argument, so loading a file can
set them all from a callback.
"""
from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

import planner
from planner.core.errors import PlannerError
from planner.present.markdown import md_plain
from planner.decide.distributions import INPUTS

from . import link
from . import state as S
from .state import PREFIX as P

EXAMPLES = {p.stem: p for p in sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))}
NEW = "new"  # the picker's first entry: planner.Scenario(), the documented defaults (README "Defaults")
ss = st.session_state


def starting_point(key: str) -> planner.Scenario:
    """The scenario a picker entry stands for: the defaults, or an example file."""
    return planner.Scenario() if key == NEW else planner.load_scenario(EXAMPLES[key])


@st.cache_resource(show_spinner=False)
def _start_labels() -> dict[str, str]:
    return {NEW: "New scenario (defaults)",
            **{k: f"Example: {planner.load_scenario(p).name}" for k, p in EXAMPLES.items()}}


# A sidebar wide enough to read the selects' values (st.sidebar has no width argument); the tabs still fit at 1400 px.
SIDEBAR_CSS = '<style>section[data-testid="stSidebar"] {width: 380px !important; min-width: 380px !important}</style>'


def init(tabs: tuple[str, ...] = ()) -> None:
    """First run of a session: the scenario the page's link carries (dashboard.link) and its open tab (one of
    `tabs`), else a new scenario at the documented defaults (or the example session state names under
    "start"); no custom models."""
    if "base_toml" not in ss:
        ss.setdefault("start", NEW)
        load(starting_point(ss.start))
        ss.custom_models = {}  # name -> config.json text of uploaded models
        _open_link(tabs)


def _open_link(tabs: tuple[str, ...]) -> None:
    """Load the scenario in the address; a link that does not decode or load leaves the start and says why."""
    value = st.query_params.get(link.PARAM)
    if value is not None:
        try:
            load(S.parse_scenario(link.decode(value), "the link's scenario"))
            ss.load_note = "Opened the scenario the link carries."
        except PlannerError as e:
            ss.load_error = f"Could not open the link's scenario; showing {_start_labels()[ss.start]} instead. {e}"
    if st.query_params.get(link.VIEW_PARAM) in tabs:
        ss["view"] = st.query_params[link.VIEW_PARAM]


def write_link(scenario_toml: str | None, view: str | None) -> None:
    """Keep the address on the scenario shown (and its tab), so copying it links to this view."""
    if scenario_toml is not None and st.query_params.get(link.PARAM) != (value := link.encode(scenario_toml)):
        st.query_params[link.PARAM] = value
    if view and st.query_params.get(link.VIEW_PARAM) != view:
        st.query_params[link.VIEW_PARAM] = view


def load(s: planner.Scenario) -> None:
    """Make `s` the scenario the sidebar shows (callers: first run and the load callbacks)."""
    values = S.widget_values(s)  # raises PlannerError before anything changes
    for key in [k for k in ss if k.startswith((P + S.UNC, P + S.UNC_ON))]:
        del ss[key]  # the previous scenario's uncertain inputs
    ss.base_toml = planner.dumps_scenario(s)
    ss.update(values)
    ss.load_error = None


def _load_from(data, what: str) -> None:
    try:
        load(S.parse_scenario(data, what))
        ss.load_note = f"Loaded {what}."
    except PlannerError as e:
        ss.load_error, ss.load_note = f"Could not load {what}; the current scenario stays. {e}", None


def _on_scenario_upload() -> None:
    f = ss.get("up_scenario")
    if f is not None:
        _load_from(f.getvalue(), f.name)


def _on_start() -> None:
    load(starting_point(ss.start))
    ss.load_note = f"Started from {_start_labels()[ss.start]}."


def _on_scenario_paste() -> None:
    _load_from(ss.get("scenario_text", ""), "pasted scenario")


def _on_config_upload() -> None:
    f = ss.get("up_config")
    if f is None:
        return
    try:
        spec, text = S.parse_hf_config(f.getvalue(), f.name)
    except PlannerError as e:
        ss.config_error = f"Could not use {f.name}: {e}"
        return
    add_custom_model(spec.name, text)


def add_custom_model(name: str, config_text: str) -> None:
    """Offer an uploaded model in the model lists and select it for self-hosting."""
    ss.custom_models = {**ss.custom_models, name: config_text}
    ss[P + "sh_model"] = name
    ss.config_error = None


@st.cache_resource(show_spinner=False)  # read-only: shared, not copied on every rerun
def _api_labels() -> dict[str, str]:
    df = planner.search_api_models("", limit=100_000)
    return {S.api_key(r.provider, r.model): S.api_label(r.provider, r.model, r.name) for r in df.itertuples()}


def _options(names: list[str], key: str) -> list[str]:
    """Catalog names, uploaded models, and the current value if neither has it (so it shows and errors)."""
    out = [*names, *(n for n in ss.custom_models if key.endswith("model"))]
    return out if ss[P + key] in out else [*out, ss[P + key]]


def _num(label: str, key: str, *, step: float, fmt: str = "%.0f", help: str | None = None):
    low, high = S.bounds(key)  # the scenario field's own bounds: a loaded value always fits
    st.number_input(label, min_value=low, max_value=high, step=step, format=fmt, key=P + key, help=help)


def _scenario() -> None:
    labels = _start_labels()
    st.selectbox("Start from", list(labels), format_func=labels.get, key="start", on_change=_on_start,
                 help="New scenario: the defaults every interface shares (README, Defaults); an example: "
                      "its file's values. Replaces every input.")
    st.text_input("Scenario name", key=P + "name", help="The report's title")
    st.text_area("Description", key=P + "description", height=68, help="Quoted under the report's title")


def _workload() -> None:
    st.header("Workload")
    _num("Requests per day", "requests_per_day", step=1000.0, help="Mean over the day, first month")
    c1, c2 = st.columns(2)
    with c1:
        _num("Input tokens", "input_tokens", step=50.0, help="User tokens per request, without the fixed prompt")
    with c2:
        _num("Output tokens", "output_tokens", step=50.0)
    _num("Fixed prompt tokens", "prompt_overhead_tokens", step=100.0,
         help="System prompt and few-shot examples sent with every request; a fine-tune can drop them")
    _num("Reasoning tokens", "reasoning_tokens", step=100.0,
         help="Hidden thinking tokens a reasoning model generates per request: the API bills them as output, "
              "a self-hosted model decodes them")
    c1, c2 = st.columns(2)
    with c1:
        _num("TTFT target (ms)", "ttft_ms", step=100.0, help="Time to first token; 0 = no target")
    with c2:
        _num("TPOT target (ms)", "tpot_ms", step=5.0, help="Time per output token; 0 = no target")
    c1, c2 = st.columns(2)
    with c1:
        _num("Peak / mean", "peak_to_mean", step=0.5, fmt="%.2f", help="Peak-hour rate over the daily mean")
    with c2:
        _num("Growth % / month", "growth_pct", step=1.0, fmt="%.1f")
    low, high = S.bounds("horizon_months")  # a slider to 60 months, further when a loaded scenario goes further
    st.slider("Horizon (months)", low, min(high, max(60, ss[P + "horizon_months"])), key=P + "horizon_months")


def _api() -> None:
    labels = _api_labels()
    with st.expander("Hosted API", expanded=True):
        st.selectbox("API model (type to search)", list(labels), format_func=lambda k: labels.get(k, k),
                     key=P + "api_model")
        try:
            provider, model = ss[P + "api_model"].split("|", 1)
            p = planner.api_price(model, provider)
            st.caption(md_plain(f"${p.input_usd_per_mtok:g} in / ${p.output_usd_per_mtok:g} out per 1M tokens"
                       + (f", cached input ${p.cached_input_usd_per_mtok:g}" if p.cached_input_usd_per_mtok is not None else "")))
        except (PlannerError, ValueError):
            pass  # the page's error says what is wrong with the model
        st.checkbox("Bill the fixed prompt at the cached-input price", key=P + "api_cached_prompt")
        st.checkbox("Batch API discount (asynchronous traffic)", key=P + "api_batch")


def _on_gpu_upload() -> None:
    f = ss.get("up_gpu")
    if f is None:
        return
    try:
        tables = S.parse_gpu_spec(f.getvalue(), f.name)
        base = S.with_custom_gpus(planner.loads_scenario(ss.base_toml), tables)
    except PlannerError as e:
        ss.gpu_error = f"Could not use {f.name}: {e}"
        return
    ss.base_toml, ss.gpu_error = planner.dumps_scenario(base), None  # saved with the scenario ([[custom_gpu]])
    ss[P + "sh_gpu"] = tables[0]["name"]


@functools.lru_cache(maxsize=8)
def _parsed(toml: str) -> planner.Scenario:
    return planner.loads_scenario(toml)


def _gpu_names() -> list[str]:
    """The catalog's GPUs and the scenario's custom ones."""
    return [g.name for g in planner.gpus()] + [t["name"] for t in _parsed(ss.base_toml).custom_gpu]


def _keep_model_and_gpu_widgets() -> None:
    """Streamlit drops a widget's value on a run that does not draw it: keep the single and the shortlist
    widgets alive whichever is shown (a missing one takes the scenario's value)."""
    kept = S.shortlist_widgets(_parsed(ss.base_toml).self_host)
    for k, v in kept.items():
        ss[P + k] = ss[P + k] if P + k in ss else v


def _model_and_gpu(gpus: list[str]) -> None:
    _keep_model_and_gpu_widgets()
    st.checkbox("Search a shortlist of models x GPUs", key=P + "sh_search",
                help="Cost every model on every GPU chosen and self-host the cheapest meeting the targets")
    catalog = [m.name for m in planner.models()]
    if ss[P + "sh_search"]:
        models = [*catalog, *ss.custom_models]
        st.multiselect("Models", [*models, *(m for m in ss[P + "sh_models"] if m not in models)], key=P + "sh_models")
        st.checkbox("Every GPU", key=P + "sh_all_gpus")
        if not ss[P + "sh_all_gpus"]:
            st.multiselect("GPUs", [*gpus, *(g for g in ss[P + "sh_gpus"] if g not in gpus)], key=P + "sh_gpus")
        st.multiselect("Precisions", list(S.PRECISIONS), key=P + "sh_precisions",
                       help="each a candidate; auto: each model and GPU at its best format")
        return
    st.selectbox("Open-weights model", _options(catalog, "sh_model"), key=P + "sh_model")
    st.file_uploader("…or upload a Hugging Face config.json (≤ 1 MB)", type=["json"], key="up_config",
                     on_change=_on_config_upload, max_upload_size=1)
    if ss.get("config_error"):
        st.error(md_plain(ss.config_error))
    if ss[P + "sh_model"] in ss.custom_models:
        st.caption("Uploaded model: a saved scenario names it, so upload the config again after loading one.")
    st.selectbox("GPU", _options(gpus, "sh_gpu"), key=P + "sh_gpu")


def _self_host() -> None:
    gpus = _gpu_names()
    with st.expander("Open weights + fine-tune + self-host", expanded=True):
        _model_and_gpu(gpus)
        st.file_uploader("Define a GPU: upload a spec (.toml or .json, the catalog's fields)", type=["toml", "json"],
                         key="up_gpu", on_change=_on_gpu_upload, max_upload_size=1,
                         help="name, peak_tflops = {bf16 = ...}, memory_gib, memory_tb_per_s, interconnect_gb_per_s, "
                              "tdp_watts, usd_per_gpu_hour (see planner/catalog/custom_gpu.py)")
        if ss.get("gpu_error"):
            st.error(md_plain(ss.gpu_error))
        try:
            catalog_price = f"catalog price ${planner.gpu(ss[P + 'sh_gpu']).usd_per_gpu_hour:g}/h"
        except PlannerError:
            catalog_price = "GPU not in the catalog"
        _num("GPU $/hour (0 = catalog price)", "sh_usd_per_gpu_hour", step=0.25, fmt="%.2f", help=catalog_price)
        # One select a row: two or three to a row cut values such as "int8-weight-only" to a few letters.
        if not ss[P + "sh_search"]:
            st.selectbox("Precision", _options(list(S.PRECISIONS), "sh_precision"), key=P + "sh_precision",
                         format_func=S.precision_label,
                         help="W8A8: fp8, int8; weight-only: int8/int4-weight-only; auto: the cheapest format meeting "
                              "the targets (the result names it)")
        st.selectbox("Fine-tuning", S.FINETUNE_METHODS, key=P + "ft_method")
        st.selectbox("Serving engine", _options(list(S.ENGINES), "sh_engine"), key=P + "sh_engine")
        st.selectbox("KV cache", _options(list(S.KV_CACHE_DTYPES), "sh_kv_cache_dtype"), key=P + "sh_kv_cache_dtype")
        st.selectbox("DP attention + expert parallelism", _options(list(S.ATTENTION_DP), "sh_attention_dp"),
                     key=P + "sh_attention_dp", format_func=lambda v: S.ATTENTION_DP_LABELS.get(v, v),
                     help="MoE models: each GPU runs attention for its own sequences and holds 1/N of the experts "
                          "(SGLang --enable-dp-attention, TensorRT-LLM enable_attention_dp); search tries with and without "
                          "and keeps the cheaper; on forces it (MoE models only)")
        st.selectbox("Latency percentile", _options(list(S.PERCENTILES), "sh_latency_percentile"),
                     key=P + "sh_latency_percentile",
                     help="this percentile of TTFT and TPOT meets the targets at the peak")
        c1, c2 = st.columns(2)
        with c1:
            _num("Dataset (M tokens)", "ft_mtokens", step=5.0, fmt="%.1f", help="Training tokens per epoch")
        with c2:
            _num("Epochs", "ft_epochs", step=1.0, fmt="%.1f")
        st.selectbox("Fine-tune on", _options([S.FT_GPU_DEFAULT, *gpus], "ft_gpu"), key=P + "ft_gpu",
                     help="Another GPU than the serving one is rented on demand for the fine-tune")
        _num("Fine-tune GPUs (0 = fewest that fit)", "ft_n_gpus", step=1.0)
        _num("Ops engineers (FTE, 0 = scale with the fleet)", "ops_engineers", step=0.25, fmt="%.2f",
             help="People running the serving stack; 0: max(1, GPUs held / 250), one per ~250 GPUs (README, Defaults)")
        st.selectbox("GPU sourcing", planner.SOURCINGS, key=P + "sh_sourcing",
                     help="Rent on demand, reserve for 1 or 3 years, spot, or buy the servers (owned: depreciation, "
                          "colocation, power, staff; owned-sunk: already bought, so colocation, power and staff only; "
                          "prices in planner/catalog/data/sourcing.toml)")


def _scratch() -> None:
    gpus = _gpu_names()
    with st.expander("Train from scratch", expanded=False):
        st.checkbox("Include this option", key=P + "sc_enabled")
        st.selectbox("Architecture to train", _options([S.SAME_AS_SELF_HOST, *(m.name for m in planner.models())],
                                                       "sc_model"), key=P + "sc_model",
                     help="Same as self-host: pretrain the open model the self-hosted option serves, so both "
                          "deliver the same model; another architecture makes the comparison unlike")
        st.selectbox("Training GPU", _options(gpus, "sc_gpu"), key=P + "sc_gpu")
        st.selectbox("Training tokens", list(S.TOKEN_POLICIES), format_func=S.TOKEN_POLICIES.get, key=P + "sc_policy",
                     help="match: as many tokens as the open model it replaces (like for like); Chinchilla: "
                          "compute-optimal for loss, not for serving cost")
        if ss[P + "sc_policy"] in ("tokens", "tokens_per_param"):
            if not ss[P + "sc_amount"] > 0:  # an amount policy starts at a usable amount, not an error
                ss[P + "sc_amount"] = S.TOKEN_AMOUNTS[ss[P + "sc_policy"]]
            _num("Billions of tokens" if ss[P + "sc_policy"] == "tokens" else "Tokens per parameter", "sc_amount",
                 step=100.0, fmt="%.1f")
        st.selectbox("Training GPU sourcing", planner.SOURCINGS, key=P + "sc_sourcing")
        c1, c2 = st.columns(2)
        with c1:
            _num("Researchers", "sc_researchers", step=1.0, fmt="%.1f")
        with c2:
            _num("For months", "sc_months", step=1.0, fmt="%.1f")


def _staff_and_flags() -> None:
    with st.expander("Staff cost, site and constraints", expanded=False):
        _num("Loaded cost per engineer ($k / year)", "kusd_per_engineer_year", step=10.0)
        st.number_input("Capability floor (MMLU-Pro %, 0 = none)", min_value=0.0, max_value=100.0, step=5.0,
                        format="%.1f", key=P + "capability_floor",
                        help="Recommend only options whose model has a published MMLU-Pro figure at least this "
                             "(planner/catalog/data/capability.toml); the others are marked with why they fall short")
        st.selectbox("Grid region (carbon)", _options(planner.regions(), "hw_region"), key=P + "hw_region",
                     help="Where the self-hosted GPUs draw their power: grid carbon intensity from "
                          "planner/catalog/data/grid.toml")
        st.checkbox("Proprietary data", key=P + "flag_proprietary_data")
        st.checkbox("Regulatory isolation (no third-party API)", key=P + "flag_regulatory_isolation")
        st.checkbox("More than 1000 good labels", key=P + "flag_labels_over_1000")
        st.checkbox("Latency-critical", key=P + "flag_latency_critical")
        st.checkbox("Frontier research", key=P + "flag_frontier_research")


def _add_uncertain() -> None:
    path = ss.get("unc_add")
    if path and path in INPUTS:
        ss[P + S.UNC + path], ss[P + S.UNC_ON + path] = S.new_entry_text(path), True
    ss.unc_add = ""


def _uncertain_inputs() -> None:
    """The scenario's [uncertainty] table: each entry shown, editable as inline TOML, and switchable off."""
    paths = S.uncertain_paths(dict(ss))
    from_file = len(planner.loads_scenario(ss.base_toml).uncertainty)
    with st.expander(f"Uncertain inputs ({len(paths)})", expanded=False):
        st.caption((f"{from_file} from the loaded scenario's [uncertainty] table. " if from_file else "")
                   + "The Monte Carlo (headline odds, Uncertainty tab) draws these; relative entries (the default) "
                   "multiply this scenario's value, so they follow the fields above; `relative = false` fixes the "
                   "numbers. Efficiencies not listed follow the literature bands.")
        for path in paths:
            spec = INPUTS.get(path)
            st.checkbox(path, key=P + S.UNC_ON + path, help=f"{spec.unit}: {spec.effect}" if spec else None)
            st.text_input(f"{path} distribution", key=P + S.UNC + path, label_visibility="collapsed",
                          disabled=not ss.get(P + S.UNC_ON + path, True))
        free = ["", *(p for p in INPUTS if p not in paths)]
        st.selectbox("Vary another input", free, key="unc_add", on_change=_add_uncertain,
                     format_func=lambda p: p or "(choose an input)")


def _files(current_toml: str | None) -> None:
    with st.expander("Scenario file", expanded=False):
        st.file_uploader("Load a scenario (.toml, ≤ 1 MB)", type=["toml"], key="up_scenario",
                         on_change=_on_scenario_upload, max_upload_size=1)
        st.text_area("…or paste one", key="scenario_text", height=120)
        st.button("Load pasted scenario", key="load_pasted", on_click=_on_scenario_paste)
        if ss.get("load_error"):
            st.error(md_plain(ss.load_error))
        elif ss.get("load_note"):
            st.success(md_plain(ss.load_note))
        if current_toml is not None:
            st.download_button("Save this scenario (.toml)", current_toml, file_name="scenario.toml",
                               mime="application/toml", key="save_sidebar", on_click="ignore")


def render() -> tuple[planner.Scenario | None, str | None]:
    """Draw the sidebar; the scenario it describes, or None and the reason it is impossible."""
    st.markdown(SIDEBAR_CSS, unsafe_allow_html=True)
    with st.sidebar:
        _scenario()
        _workload()
        _api()
        _self_host()
        _scratch()
        _staff_and_flags()
        _uncertain_inputs()
        base = planner.loads_scenario(ss.base_toml)
        try:
            s, error = S.scenario_from_values(base, dict(ss)), None
        except PlannerError as e:
            s, error = None, str(e)
        ss.current_toml = planner.dumps_scenario(s) if s is not None else None
        _files(ss.current_toml)
    return s, error
