"""What a QLoRA step holds beyond the NF4 weights, by the software stack that computes the NF4 linears.

The planner's default stack ("peft": Hugging Face PEFT on bitsandbytes >= 0.43.2's Linear4bit; torchtune's rows use it
too) keeps what finetuning.qlora_weight_bytes counts: NF4 block linears, bf16 embedding,
head and norms, and one bf16 copy of the largest linear while it is computed. litgpt (`litgpt finetune lora
--quantize bnb.nf4 --precision bf16-true`, the config hub's published peaks) differs in three sourced ways and one
judgement (all read 2026-12-07):

1. Its NF4 matmul keeps each quantized linear's input for the backward. litgpt supports bitsandbytes 0.42.0 only
   (litgpt/finetune/lora.py: "LitGPT only supports bitsandbytes v0.42.0"), whose MatMul4Bit.forward sets
   `ctx.tensors = (A, B)` when the input needs a gradient (bitsandbytes/autograd/_functions.py at tag 0.42.0);
   bitsandbytes dropped A in commit 9e753741 (2024-07-16, github.com/bitsandbytes-foundation/bitsandbytes/pull/1270
   "fix QLoRA mem bug: delete useless buffered activation", first released in 0.43.2; Tim Dettmers there: "the bug that caused a lot of memory issues with
   QLoRA"). A frozen bf16 linear keeps nothing: PyTorch's autograd saves `self` of mm only when the weight needs a
   gradient (tools/autograd/gen_variable_type.py, guard_for: "We don't want to save tensors if we know that they
   will never be used"). The inputs the LoRA count does not already hold: the attention input, the output
   projection's input, the MLP input and the down projection's input.
2. Its output head is NF4 too: litgpt/lora.py builds lm_head with create_lora_linear (a torch.nn.Linear inside) under
   Fabric.init_module, where Lightning's BitsandbytesPrecision.init_context replaces torch.nn.Linear with the NF4
   class for every module (litgpt passes no ignore_modules; lightning/fabric/plugins/precision/bitsandbytes.py).
3. Each NF4 matmul dequantizes into two transient copies: Lightning's _Linear4bit._quantize_weight quantizes from
   `weight.to(dtype=torch.half)`, dequantize_4bit allocates its output in the quantized tensor's dtype
   (`torch.empty(quant_state.shape, dtype=quant_state.dtype)`, bitsandbytes/functional.py at 0.42.0: fp16) and
   MatMul4Bit casts it `.to(A.dtype)` (bf16): two 2-byte copies of the largest quantized matrix, the
   vocabulary-wide head.
4. Judgement: a fixed residual the config hub's LoRA/QLoRA pairs at the same setup leave after 1-3 (see
   LITGPT_RESIDUAL_BYTES).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..catalog.specs import ModelSpec
from .arithmetic import embedding_params, total_params

BF16 = 2.0


@dataclass(frozen=True)
class QLoRAStack:
    """How one software stack computes QLoRA's NF4 linears, as the memory model needs it."""

    saves_linear_inputs: bool  # the NF4 matmul keeps its input for the backward (1. above)
    quantizes_head: bool  # the output head is NF4 too (2.)
    dequant_copies: int  # transient 2-byte copies of the matrix being computed (3.)
    residual_bytes: float  # fixed bytes the stack holds beyond the terms (4.; judgement)
    note: str


# litgpt config hub (github.com/Lightning-AI/litgpt/blob/main/config_hub/finetune/README.md, read 2026-12-07): its
# LoRA and QLoRA rows of Llama-2-7B (both calibration rows of the memory check) ran at the same setup (1 x A10G, max
# seq 512, micro-batch 2, LoRA r 32 on query and value: config_hub/finetune/llama-2-7b/qlora.yaml). QLoRA measured
# 6.09 GB less than LoRA (13.68 vs 19.77); with terms 1-3 the planner's QLoRA is 7.45 GB less than its LoRA, so
# 1.36 GB of what litgpt's QLoRA holds has no term. No source for it was found (the paged AdamW's buffers are
# managed memory, outside torch.cuda.max_memory_allocated: bitsandbytes 0.42.0 functional.get_paged allocates with
# cget_managed_ptr). The Phi-3-mini pair (not check rows) leaves 2.1 GB, but
# its configs adapt every linear and the head (config_hub/finetune/phi-3/qlora.yaml), so it is not like for like.
# Judgement: 1.4 GB per run, from the Llama-2-7B pair.
LITGPT_RESIDUAL_BYTES = 1.4e9

STACKS = {
    "peft": QLoRAStack(False, False, 1, 0.0, "Hugging Face PEFT on bitsandbytes >= 0.43.2 Linear4bit (the input is "
                                             "not kept), bf16 head; the planner's default"),
    "litgpt": QLoRAStack(True, True, 2, LITGPT_RESIDUAL_BYTES,
                         "litgpt + Lightning BitsandbytesPrecision on bitsandbytes 0.42.0: inputs kept, NF4 head, "
                         "fp16 dequantization cast to bf16, + a 1.4 GB judgement residual"),
}
DEFAULT_STACK = "peft"


def head_params(m: ModelSpec) -> float:
    """Parameters of the output head (dim x vocabulary); 0 when it shares the embedding's matrix."""
    return 0.0 if m.tied_embeddings else float(m.dim * m.vocab_size)


def largest_block_linear(m: ModelSpec) -> float:
    """Parameters of the largest linear in a transformer block (the MLP's or the query projection)."""
    ffn = max(m.ffn_dim, m.moe_ffn_dim) if m.is_moe else m.ffn_dim
    return float(max(m.dim * ffn, m.dim * m.n_heads * m.head_dim))


def weight_bytes_per_param(m: ModelSpec, nf4_bits: float, stack: QLoRAStack) -> float:
    """Stored bytes per parameter of a QLoRA base, averaged over the model: NF4 block linears (and the head where the
    stack quantizes it), bf16 embedding and norms (and head), plus the transient dequantized copies of the largest
    quantized matrix, which the peak holds at once."""
    total = total_params(m)
    bf16 = embedding_params(m) + m.n_layers * m.norms_per_layer * m.dim
    head = head_params(m) if stack.quantizes_head else 0.0
    largest = max(largest_block_linear(m), head)
    stored = (total - bf16 + head) * nf4_bits / 8 + BF16 * (bf16 - head)
    return (stored + stack.dequant_copies * BF16 * largest + stack.residual_bytes) / total


def saved_input_bytes_per_sbh(m: ModelSpec, stack: QLoRAStack) -> float:
    """Bytes per s b h one layer keeps beyond the planner's count when the NF4 matmul keeps its input: the bf16
    inputs of the attention (dim), of the output projection (heads x head_dim), of the MLP (dim) and of the down
    projection (the routed experts' intermediate width times the experts a token reaches, or ffn_dim); 0 when the
    stack keeps none."""
    if not stack.saves_linear_inputs:
        return 0.0
    ffn = (m.moe_ffn_dim * m.n_experts_per_token + m.shared_expert_ffn_dim * m.n_shared_experts) if m.is_moe \
        else m.ffn_dim
    return BF16 * (2.0 * m.dim + m.n_heads * m.head_dim + ffn) / m.dim
