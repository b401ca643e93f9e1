"""Upper bounds on every input: far above any real plan, low enough that nothing hangs or overflows.

A value past one of these is refused before any work starts, with the bound in the
message. Each bound is a judgement, stated with its reason; raise one here (and only
here) if a real plan needs more.
"""
from __future__ import annotations

# ---- time ----
MAX_HORIZON_MONTHS = 600  # 50 years of monthly costs; arrays are (samples x months), so this bounds memory
MAX_MONTHS = 600.0  # any duration in months (setup, preparation, staff time, time to production)
MAX_LATENCY_TARGET_S = 86_400.0  # a day: a "latency" target beyond that is a batch deadline, not a target

# ---- traffic and tokens ----
MIN_REQUESTS_PER_DAY = 1e-3  # a request every three years: below that, costs per request overflow
MAX_REQUESTS_PER_DAY = 1e12  # ~100x the largest public chat services' daily requests in 2026
MAX_FINAL_REQUESTS_PER_DAY = 1e15  # after growth compounds over the horizon (growth x horizon is checked jointly)
MAX_PEAK_REQUESTS_PER_S = 1e10
MAX_PEAK_TO_MEAN = 1e3
MAX_MONTHLY_GROWTH = 10.0  # +1000% a month
MAX_TOKENS_PER_REQUEST = 1e8  # 100x the longest context windows on sale
MIN_OUTPUT_TOKENS = 1e-3  # averaged over requests; the divisor of $ per token
MIN_UTILIZATION = 0.01  # a fleet sized to run at most 1% busy; below that, replica counts overflow
MIN_EFFICIENCY = 1e-3  # 0.1% of a GPU's peak: times and costs divide by it
# A fraction of a datasheet peak is at most 1, but a calibration against a measured peak (a CPU's best
# copy) can pass it where caches help; the results reader refuses impossible physics, this only bounds.
MAX_EFFICIENCY = 4.0
MAX_TOKENS = 1e16  # training tokens: ~1000x Llama 3's 15.6T
MAX_EPOCHS = 1e3
MAX_SEQ_LEN = 10_000_000
MAX_LORA_RANK = 65_536

# ---- hardware ----
MAX_GPUS = 1_000_000  # a million accelerators (the training layouts' own bound)
MAX_TENSOR_PARALLEL = 1_024
MAX_BATCH_SIZE = 65_536  # the serving batch sweep is one array of this length
MAX_REPLICAS = 1_000_000
MAX_OVERHEAD_FACTOR = 100.0
MAX_TOKENS_PER_STEP = 1e9  # a global batch of a billion tokens: ~60x Llama 3's 16M
# One accelerator's datasheet (a custom GPU): about 10x the largest figure in catalog/data/gpus.toml (2026-12),
# so a unit slip (bytes for GiB, GB/s for TB/s) is refused instead of planned with.
MAX_PEAK_FLOPS = 1e17  # dense, any dtype: MI355X 5.0e15 fp8 in the catalog
MAX_GPU_MEMORY_BYTES = 4e12  # MI355X 288 GiB (3.1e11)
MAX_GPU_MEMORY_BYTES_PER_S = 1e14  # MI355X, GB200: 8 TB/s
MAX_INTERCONNECT_BYTES_PER_S = 2e13  # NVLink 5: 1.8 TB/s
MAX_TDP_WATTS = 15_000.0  # MI355X: 1,400 W
MAX_CUSTOM_GPUS = 64  # custom GPUs in one scenario: a shortlist search tries each
MAX_SHORTLIST = 64  # models, or GPUs, in a [self_host] shortlist: 64 x 64 candidates is minutes of search

# ---- money and people ----
MAX_USD = 1e13  # any one-time amount: ~10 trillion dollars
MAX_USD_PER_MTOK = 1e5  # per million tokens; list prices in 2026 are below $1,000
MAX_USD_PER_GPU_HOUR = 1e4  # on-demand prices in 2026 are below $100
MAX_USD_PER_ENGINEER_YEAR = 1e8
MAX_PEOPLE = 1e6

# ---- Monte Carlo and grids ----
MAX_SAMPLES = 10_000_000
# samples x horizon months: the engine's work (and, in chunks, its time). 10M samples over 24 months,
# or 1M over 240, is a few minutes on one core; past that, ask for fewer samples.
MAX_SAMPLE_MONTHS = 240_000_000
MAX_MONTE_CARLO_BYTES = 4 * 2**30  # the sample arrays of one run (estimated before sampling)
MAX_GRID_POINTS = 1_000_000  # frontier grid (x values x y values); any array argument (a sweep's levels)
MAX_SWEEP_POINTS = 50_000_000  # traffic levels x months of one cost sweep: ~400 MB per array of the sweep
MAX_SEED = 2**63 - 1  # numpy's generators take non-negative seeds

# ---- text and files ----
MAX_NAME_CHARS = 200  # model, GPU, provider and scenario names (one line)
MAX_DESCRIPTION_CHARS = 10_000
MAX_PATH_CHARS = 4_096  # Linux PATH_MAX
MAX_FILE_BYTES = 1_000_000  # scenario files and dashboard uploads
MAX_CONFIG_BYTES = 10_000_000  # a Hugging Face config.json (some carry large label maps)
MAX_NESTING = 32  # arrays/tables/objects inside each other; scenario files need 4, config.json ~6
MAX_INT_DIGITS = 4_300  # Python's own limit on int <-> str conversion (sys.get_int_max_str_digits)
