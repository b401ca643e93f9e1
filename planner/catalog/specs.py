"""Model and GPU specifications: raw fields only; derived numbers live in arithmetic.py."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..core.errors import InputError, PlannerError
from ..core.provenance import Source


@dataclass(frozen=True)
class MLASpec:
    """DeepSeek-V2/V3 multi-head latent attention (arXiv:2412.19437, Sec. 2.1.1).

    Keys and values are cached as one compressed latent of `kv_lora_rank` plus a
    shared rotary key of `qk_rope_head_dim` per token and layer.
    """

    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer in Llama naming (dim, n_heads, n_kv_heads, ffn_dim)."""

    name: str
    n_layers: int
    dim: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int  # SwiGLU hidden size of a dense layer (w1, w3: dim -> ffn_dim)
    vocab_size: int
    context_length: int = 4096
    head_dim: int = 0  # 0: dim // n_heads (set in __post_init__)
    tied_embeddings: bool = False  # input embedding shared with the output head
    # Mixture of experts. n_experts == 0 means dense.
    n_experts: int = 0  # routed experts per MoE layer
    n_experts_per_token: int = 0
    n_shared_experts: int = 0  # always-on experts (DeepSeek)
    moe_ffn_dim: int = 0  # hidden size of one expert; 0: ffn_dim
    n_dense_layers: int = 0  # leading layers that stay dense in an MoE model (DeepSeek: 3)
    qkv_bias: bool = False  # Qwen2 adds a bias to q, k, v
    mla: MLASpec | None = None
    extra_params: int = 0  # parameters outside the stack above (e.g. DeepSeek-V3's MTP module)
    published_params: float = 0.0  # total parameters the authors state, for tests
    published_active_params: float = 0.0
    source: Source | None = None
    notes: str = ""

    def __post_init__(self):
        for name in ("n_layers", "dim", "n_heads", "n_kv_heads", "ffn_dim", "vocab_size", "context_length"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise InputError(f"model {self.name!r} field {name}", f"must be a positive integer, got {v!r}")
        if self.n_heads % self.n_kv_heads:
            raise InputError(f"model {self.name!r} field n_kv_heads",
                             f"{self.n_kv_heads} does not divide n_heads={self.n_heads}")
        if self.head_dim == 0:
            if self.dim % self.n_heads:
                raise InputError(f"model {self.name!r} field head_dim",
                                 f"dim={self.dim} is not divisible by n_heads={self.n_heads}; give head_dim")
            object.__setattr__(self, "head_dim", self.dim // self.n_heads)
        if self.n_experts and not 0 < self.n_experts_per_token <= self.n_experts:
            raise InputError(f"model {self.name!r} field n_experts_per_token",
                             f"must be in 1..n_experts={self.n_experts}, got {self.n_experts_per_token}")
        if self.n_experts and self.moe_ffn_dim == 0:
            object.__setattr__(self, "moe_ffn_dim", self.ffn_dim)

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GPUSpec:
    """One accelerator. Peaks are dense (no 2:4 sparsity), in FLOP/s or OP/s."""

    name: str
    peak_flops: dict[str, float]  # dtype -> dense peak; a missing dtype is unsupported
    memory_bytes: float
    memory_bytes_per_s: float
    interconnect_bytes_per_s: float  # per GPU, vendor's aggregate of both directions (NVLink, Infinity Fabric, PCIe)
    tdp_watts: float
    usd_per_gpu_hour: float
    vendor: str = ""
    sources: dict[str, Source] = field(default_factory=dict)  # field name -> citation

    def __post_init__(self):
        for name in ("memory_bytes", "memory_bytes_per_s", "usd_per_gpu_hour"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v <= 0:
                raise InputError(f"gpu {self.name!r} field {name}", f"must be > 0, got {v!r}")
        if not self.peak_flops:
            raise InputError(f"gpu {self.name!r} field peak_flops", "needs at least one dtype")

    def peak(self, dtype: str) -> float:
        """Dense peak FLOP/s (OP/s for int8) for `dtype`; a clear error if unsupported."""
        try:
            return self.peak_flops[dtype]
        except KeyError:
            have = ", ".join(sorted(self.peak_flops))
            raise PlannerError(f"{self.name} has no {dtype} tensor-core support (it has: {have})") from None

    def with_price(self, usd_per_gpu_hour: float) -> GPUSpec:
        """The same GPU at another price (a cloud quote, a reserved rate)."""
        from dataclasses import replace
        return replace(self, usd_per_gpu_hour=usd_per_gpu_hour)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Precision:
    """How weights are stored and which tensor-core dtype does the matrix work."""

    name: str
    bytes_per_weight: float
    compute_dtype: str  # key into GPUSpec.peak_flops
    description: str


# int8 is W8A8 (SmoothQuant-style, arXiv:2211.10438): int8 weights and int8 GEMMs.
# int4 is weight-only (AWQ/GPTQ-style): weights dequantized to bf16, so bf16 peak applies.
# Scales add about 1-3% to quantized weight bytes; ignored (bias: slight under-estimate).
PRECISIONS: dict[str, Precision] = {
    "fp32": Precision("fp32", 4.0, "fp32", "full precision"),
    "bf16": Precision("bf16", 2.0, "bf16", "bf16 weights and matmuls"),
    "fp8": Precision("fp8", 1.0, "fp8", "fp8 (e4m3) weights and matmuls"),
    "int8": Precision("int8", 1.0, "int8", "int8 weights and activations (W8A8)"),
    "int4": Precision("int4", 0.5, "bf16", "int4 weight-only, bf16 matmuls"),
}


def precision(name: str) -> Precision:
    from ..core.errors import UnknownNameError
    try:
        return PRECISIONS[name.lower()]
    except (KeyError, AttributeError):
        raise UnknownNameError("precision", str(name), PRECISIONS) from None
