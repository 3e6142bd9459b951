#!/usr/bin/python3
"""Generate the fixtures of the parameter-efficient fine-tuning baselines (LoRA, Adapter,
AdaptFormer, SSF, VPT-deep, BitFit).

FIXTURE_VERSION = 2  (2: Adapter one per block after the MLP by default, plus the two-adapter
case; AdaptFormer added after the MLP's drop path with dropout, zero down bias; SSF's two model-level
sites)

Run with Debian's system python (torch + numpy only), after tools/make_fixtures.py:

    /usr/bin/python3 tools/make_peft_fixtures.py

Writes into tests/fixtures/peft/ (see the README.md written there):
  methods_d2.safetensors   every method on the vit_d2_w32_h4 fixture model (backbone frozen):
                           its random tensors (C++ parameter names), the logits and the gradients
                           of a fixed loss with respect to the images and every trainable tensor,
                           computed in float64 and stored as F32

The PyTorch side is an independent transcription from the papers / their timm-based reference
code: each method is written into a re-implemented block forward (no monkeypatching) that calls
the make_fixtures.VisionTransformer submodules. Deterministic: fixed seeds, single thread,
hand-written safetensors.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import MODELS, OUT_DIR, VisionTransformer, read_safetensors, write_safetensors  # noqa: E402

FIXTURE_VERSION = 2
PEFT_DIR = os.path.join(OUT_DIR, "peft")
MODEL = "vit_d2_w32_h4"

# Fixture case -> method. adapter is Adapter's default, one per block after the MLP; adapter_both adds
# Houlsby's second one after attention (placement "both").
CASES = {"lora": "lora", "adapter": "adapter", "adapter_both": "adapter", "adaptformer": "adaptformer",
         "ssf": "ssf", "vpt": "vpt", "bias": "bias"}
BATCH = 2
SEED = 7300  # images / loss weights; method k draws from SEED + 1 + k

# Small sizes so the fixture stays tiny but every dimension is distinct from D = 32.
LORA_RANK = 4
LORA_ALPHA = 8.0  # != rank, so that a wrong alpha / r shows
ADAPTER_DIM = 8
ADAPTFORMER_DIM = 8
ADAPTFORMER_SCALE = 0.1
VPT_PROMPTS = 3
SSF_SITES = ["norm1", "qkv", "proj", "norm2", "fc1", "fc2"]  # per block
SSF_MODEL_SITES = ["patch_embed", "norm"]  # after the patch embedding and after the final norm

# Random values far from the real inits (zero LoRA b / adapter up, unit SSF scale) so that
# every tensor changes the logits and receives a non-trivial gradient.
WEIGHT_STD, BIAS_STD = 0.3, 0.1
SSF_STD = 0.3
PROMPT_STD = 1.0  # prompts enter through norm1, so their scale is not critical
BITFIT_STD = 0.1


def load_model(dtype):
    cfg = next(m for m in MODELS if m["name"] == MODEL)
    model = VisionTransformer(**cfg["arch"]).to(dtype).eval()
    model.load_state_dict(read_safetensors(os.path.join(OUT_DIR, MODEL + ".safetensors")))
    for p in model.parameters():
        p.requires_grad_(False)  # backbone frozen; trainable tensors are switched on per method
    return model, cfg["arch"]


# --------------------------------------------------------------------------
# Method tensors: name (C++ parameter name) -> (shape, distribution)
# --------------------------------------------------------------------------

def bitfit_names(depth):
    """Every bias of the backbone (the head is listed separately, as for every method)."""
    names = ["patch_embed.proj.bias"]
    for i in range(depth):
        names += [f"blocks.{i}.{n}.bias" for n in
                  ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")]
    return names + ["norm.bias"]


def method_specs(case, arch):
    """Ordered list of (name, shape, kind); kind picks the distribution in draw()."""
    method = CASES[case]
    D, depth = arch["embed_dim"], arch["depth"]
    hidden = int(D * arch["mlp_ratio"])

    def linear(prefix, n_in, n_out):
        return [(prefix + ".weight", (n_out, n_in), "weight"), (prefix + ".bias", (n_out,), "bias")]

    specs = []
    for i in range(depth):
        b = f"blocks.{i}.{method}"
        if method == "lora":
            for part in ("q", "v"):
                specs += [(f"{b}.{part}.a", (LORA_RANK, D), "weight"),
                          (f"{b}.{part}.b", (D, LORA_RANK), "weight")]
        elif method == "adapter":
            for where in (("attn", "mlp") if case == "adapter_both" else ("mlp",)):
                specs += linear(f"{b}.{where}.down", D, ADAPTER_DIM)
                specs += linear(f"{b}.{where}.up", ADAPTER_DIM, D)
        elif method == "adaptformer":
            specs += linear(f"{b}.down", D, ADAPTFORMER_DIM) + linear(f"{b}.up", ADAPTFORMER_DIM, D)
        elif method == "ssf":
            widths = dict(norm1=D, qkv=3 * D, proj=D, norm2=D, fc1=hidden, fc2=D)
            for site in SSF_SITES:
                specs += [(f"{b}.{site}.scale", (widths[site],), "scale"),
                          (f"{b}.{site}.shift", (widths[site],), "shift")]
        elif method == "vpt":
            specs.append((f"{b}.prompts", (VPT_PROMPTS, D), "prompt"))
    if method == "ssf":
        for site in SSF_MODEL_SITES:
            specs += [(f"ssf.{site}.scale", (D,), "scale"), (f"ssf.{site}.shift", (D,), "shift")]
    if method == "bias":
        specs = [(n, None, "bitfit") for n in bitfit_names(depth)]
    return specs


def draw(case, arch, model, gen):
    """Random float64 values for the case's tensors (for bias: the perturbed biases)."""
    std = dict(weight=WEIGHT_STD, bias=BIAS_STD, shift=SSF_STD, prompt=PROMPT_STD)
    params = {}
    for name, shape, kind in method_specs(case, arch):
        if kind == "bitfit":
            base = model.get_parameter(name).detach()
            params[name] = base + BITFIT_STD * torch.randn(base.shape, generator=gen).double()
        else:
            noise = torch.randn(shape, generator=gen).double()
            params[name] = 1.0 + SSF_STD * noise if kind == "scale" else std[kind] * noise
    return params


def identity_params(method, params):
    """The same tensors with the ones that make the method a no-op set to their neutral value:
    LoRA b = 0, adapter / AdaptFormer up = 0, SSF scale = 1 and shift = 0."""
    out = {}
    for name, v in params.items():
        if ((method == "lora" and name.endswith(".b"))
                or (method in ("adapter", "adaptformer") and ".up." in name)
                or (method == "ssf" and name.endswith(".shift"))):
            out[name] = torch.zeros_like(v)
        elif method == "ssf" and name.endswith(".scale"):
            out[name] = torch.ones_like(v)
        else:
            out[name] = v
    return out


# --------------------------------------------------------------------------
# Forward pass with the methods plugged in. p maps C++ names to tensors; the backbone
# comes from the (frozen) modules of make_fixtures.VisionTransformer.
# --------------------------------------------------------------------------

def bottleneck(x, p, prefix, act):
    return F.linear(act(F.linear(x, p[prefix + ".down.weight"], p[prefix + ".down.bias"])),
                    p[prefix + ".up.weight"], p[prefix + ".up.bias"])


def attention(attn, x, method, p, b, ssf):
    """make_fixtures.Attention.forward with LoRA on q / v and SSF on qkv / proj."""
    B, N, C = x.shape
    qkv = attn.qkv(x)
    if method == "lora":
        # LoRA reads the qkv input (norm1 output) and adds to the q and v slices only.
        delta = {part: F.linear(F.linear(x, p[f"{b}.{part}.a"]), p[f"{b}.{part}.b"])
                 * (LORA_ALPHA / LORA_RANK) for part in ("q", "v")}
        qkv = qkv + torch.cat((delta["q"], torch.zeros_like(delta["q"]), delta["v"]), dim=-1)
    qkv = ssf(qkv, "qkv")
    qkv = qkv.reshape(B, N, 3, attn.num_heads, C // attn.num_heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    a = ((q @ k.transpose(-2, -1)) * attn.scale).softmax(dim=-1)
    return ssf(attn.proj((a @ v).transpose(1, 2).reshape(B, N, C)), "proj")


def block_forward(blk, x, i, method, p):
    b = f"blocks.{i}.{method}"
    if method == "ssf":
        def ssf(y, site):
            return y * p[f"{b}.{site}.scale"] + p[f"{b}.{site}.shift"]
    else:
        def ssf(y, site):
            return y
    if method == "vpt":
        # VPT-deep: this block's prompts go right after CLS (no position embedding) ...
        prompts = p[f"{b}.prompts"]
        x = torch.cat((x[:, :1], prompts.expand(x.shape[0], -1, -1), x[:, 1:]), dim=1)

    h = attention(blk.attn, ssf(blk.norm1(x), "norm1"), method, p, b, ssf)
    if f"{b}.attn.down.weight" in p:  # Houlsby's attention adapter (placement "both"): before the residual add
        h = h + bottleneck(h, p, b + ".attn", F.gelu)
    x = x + h

    m = ssf(blk.mlp.fc1(ssf(blk.norm2(x), "norm2")), "fc1")
    m = ssf(blk.mlp.fc2(blk.mlp.act(m)), "fc2")
    if method == "adapter":
        m = m + bottleneck(m, p, b + ".mlp", F.gelu)
    if method == "adaptformer":
        # AdaptMLP "parallel": read from the MLP's input, added after the MLP's (here identity, eval)
        # drop path; its dropout 0.1 after the ReLU is off in eval.
        x = x + m + ADAPTFORMER_SCALE * bottleneck(x, p, b, F.relu)
    else:
        x = x + m

    if method == "vpt":
        # ... and are dropped at its output (the next block brings its own).
        x = torch.cat((x[:, :1], x[:, 1 + prompts.shape[0]:]), dim=1)
    return x


def peft_logits(model, images, method, p):
    def ssf(y, site):  # SSF's model-level sites, as SSF's PatchEmbed and VisionTransformer apply them
        return y * p[f"ssf.{site}.scale"] + p[f"ssf.{site}.shift"] if method == "ssf" else y
    x = ssf(model.patch_embed(images), "patch_embed")
    x = torch.cat((model.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
    x = x + model.pos_embed
    for i, blk in enumerate(model.blocks):
        x = block_forward(blk, x, i, method, p)
    return model.head(ssf(model.norm(x), "norm")[:, 0])


def run(case, params, images, dtype, loss_weights=None):
    """Logits and (when loss_weights is given) the gradients of sum(logits * loss_weights)
    with respect to the images and every trainable tensor (method tensors, then the head)."""
    method = CASES[case]
    model, _ = load_model(dtype)
    if method == "bias":
        # BitFit trains the backbone's own biases: load the perturbed values into the model.
        with torch.no_grad():
            for name, v in params.items():
                model.get_parameter(name).copy_(v)
        leaves = {name: model.get_parameter(name) for name in params}
        p = {}
    else:
        leaves = {name: v.to(dtype) for name, v in params.items()}
        p = leaves
    leaves["head.weight"], leaves["head.bias"] = model.head.weight, model.head.bias
    if loss_weights is None:
        with torch.no_grad():
            return peft_logits(model, images.to(dtype), method, p), None
    for t in leaves.values():
        t.requires_grad_(True)
    x = images.to(dtype).requires_grad_()
    logits = peft_logits(model, x, method, p)
    (logits * loss_weights.to(dtype)).sum().backward()
    grads = {"images": x.grad}
    grads.update({name: t.grad for name, t in leaves.items()})
    return logits.detach(), grads


def merged_model(method, params):
    """LoRA or SSF folded into the backbone weights, for make_fixtures' unmodified forward: a
    second, independent formulation of the two (LoRA: W_q += alpha/r b a, likewise W_v; SSF: the
    paper's re-parameterisation W' = diag(scale) W, b' = scale * b + shift)."""
    model, arch = load_model(torch.float64)
    D = arch["embed_dim"]
    with torch.no_grad():
        for i, blk in enumerate(model.blocks):
            b = f"blocks.{i}.{method}"
            if method == "lora":
                for part, lo in (("q", 0), ("v", 2 * D)):
                    delta = params[f"{b}.{part}.b"] @ params[f"{b}.{part}.a"]
                    blk.attn.qkv.weight[lo:lo + D] += delta * (LORA_ALPHA / LORA_RANK)
            elif method == "ssf":
                modules = dict(norm1=blk.norm1, qkv=blk.attn.qkv, proj=blk.attn.proj,
                               norm2=blk.norm2, fc1=blk.mlp.fc1, fc2=blk.mlp.fc2)
                fold_ssf(modules, params, b)
        if method == "ssf":  # the conv's output channels, the final norm
            fold_ssf(dict(patch_embed=model.patch_embed.proj, norm=model.norm), params, "ssf")
    return model


def fold_ssf(modules, params, prefix):
    for site, mod in modules.items():
        scale, shift = params[f"{prefix}.{site}.scale"], params[f"{prefix}.{site}.shift"]
        mod.weight.mul_(scale.reshape(-1, *[1] * (mod.weight.dim() - 1)))
        mod.bias.mul_(scale).add_(shift)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def make_methods_fixture():
    model, arch = load_model(torch.float64)
    gen = torch.Generator().manual_seed(SEED)
    images = torch.randn(BATCH, 3, arch["img_size"], arch["img_size"], generator=gen)
    loss_weights = torch.randn(BATCH, arch["num_classes"], generator=gen)
    with torch.no_grad():
        plain = model(images.double())
    out = {"images": images, "loss_weights": loss_weights}
    worst32 = 0.0
    for k, (case, method) in enumerate(CASES.items()):
        params = draw(case, arch, model, torch.Generator().manual_seed(SEED + 1 + k))

        # Self-check: with the neutral values the method must reproduce the plain model
        # (this also pins the re-implemented block forward to make_fixtures' Block).
        if method in ("lora", "adapter", "adaptformer", "ssf"):
            neutral, _ = run(case, identity_params(method, params), images, torch.float64)
            assert torch.allclose(neutral, plain, rtol=0, atol=1e-12), f"{case}: not a no-op"

        logits, grads = run(case, params, images, torch.float64, loss_weights)
        if method in ("lora", "ssf"):
            with torch.no_grad():
                merged = merged_model(method, params)(images.double())
            assert torch.allclose(merged, logits, rtol=0, atol=1e-10), f"{case}: merge differs"
        effect = (logits - plain).abs().max().item()
        assert effect > 1e-2, f"{case}: changes the logits by only {effect}"
        for name, g in grads.items():
            assert g is not None and g.abs().max().item() > 1e-6, f"{case}: no gradient for {name}"

        for name, v in params.items():
            out[f"{case}.{name}"] = v
        out[f"{case}.logits"] = logits
        for name, g in grads.items():
            out[f"{case}.grad.{name}"] = g

        # Only informative: how far a float32 implementation lands from the stored values.
        logits32, _ = run(case, {n: v.float() for n, v in params.items()}, images, torch.float32)
        err32 = (logits32.double() - logits).abs().max().item()
        worst32 = max(worst32, err32)
        print(f"{case}: {len(params)} tensors, max|logit|={logits.abs().max().item():.3f} "
              f"effect={effect:.3f} max|grad images|={grads['images'].abs().max().item():.3f} "
              f"f32 logit err={err32:.1e}")

    path = os.path.join(PEFT_DIR, "methods_d2.safetensors")
    write_safetensors(path, out)
    back = read_safetensors(path)
    assert list(back) == list(out)
    for name, v in out.items():
        assert torch.equal(back[name], v.float()), name
    print(f"methods: float32-vs-float64 max abs logit err={worst32:.2e}, "
          f"{len(out)} tensors, {os.path.getsize(path)} bytes")
    return out


def write_readme(out):
    cfg = next(m for m in MODELS if m["name"] == MODEL)
    a = cfg["arch"]
    D, hidden = a["embed_dim"], int(a["embed_dim"] * a["mlp_ratio"])
    lines = [
        "# PEFT baseline fixtures",
        "",
        f"Fixture version: {FIXTURE_VERSION}",
        "",
        "Generated by `tools/make_peft_fixtures.py` (deterministic) from the model of",
        "`tools/make_fixtures.py`; regenerate with:",
        "",
        "    /usr/bin/python3 tools/make_fixtures.py    # first: the backbone checkpoint",
        "    /usr/bin/python3 tools/make_peft_fixtures.py",
        "",
        "The PyTorch side re-implements the ViT block forward (make_fixtures' timm 0.6.5",
        "transcription: pre-norm, LayerNorm eps 1e-6, exact erf GELU, CLS head after the final",
        "norm) with each method written in. Values are float64 results stored as F32.",
        "",
        f"## methods_d2.safetensors (model `{MODEL}`, D = {D}, MLP hidden = {hidden}, "
        f"{a['depth']} blocks, {a['num_heads']} heads, {a['num_classes']} classes)",
        "",
        "The backbone is the checkpoint `../" + MODEL + ".safetensors`, frozen. For every method",
        "the head (`head.weight`, `head.bias`) is trainable and is the checkpoint's as is.",
        "",
        f"- `images` ({BATCH},3,{a['img_size']},{a['img_size']}) N(0,1); `loss_weights` "
        f"({BATCH},{a['num_classes']}) N(0,1): loss = sum(logits * loss_weights).",
        "- per case `<m>` (a method, or `adapter_both`: adapter with placement both):",
        "  - `<m>.<name>`: every tensor of the method, under its C++ parameter name (table below);",
        "    linear weights (and LoRA a, b) N(0, 0.3^2), biases N(0, 0.1^2) unless said otherwise;",
        f"  - `<m>.logits` ({BATCH},{a['num_classes']}); `<m>.grad.images` "
        f"({BATCH},3,{a['img_size']},{a['img_size']});",
        "  - `<m>.grad.<name>` for every trainable tensor: each `<m>.<name>`, then `head.weight`",
        "    and `head.bias`.",
        "",
        "`i` is the block index (0..1). Shapes are PyTorch's (linear weight = (out, in)).",
        "",
        "| method | tensors per block `i` | definition |",
        "|---|---|---|",
        f"| `lora` (r = {LORA_RANK}, alpha = {LORA_ALPHA:g}) | `blocks.i.lora.{{q,v}}.a` ({LORA_RANK},{D}), "
        f"`blocks.i.lora.{{q,v}}.b` ({D},{LORA_RANK}) | n1 = norm1(x), the qkv input; "
        f"qkv[..., 0:D] += n1 a_q^T b_q^T * alpha/r; qkv[..., 2D:3D] += n1 a_v^T b_v^T * alpha/r "
        f"(k untouched, no bias). Real init has b = 0; here b is random. |",
        f"| `adapter` (Houlsby, m = {ADAPTER_DIM}, one per block: the default placement `mlp`) | "
        f"`blocks.i.adapter.mlp.down.weight` ({ADAPTER_DIM},{D}), `.down.bias` ({ADAPTER_DIM}), "
        f"`.up.weight` ({D},{ADAPTER_DIM}), `.up.bias` ({D}) | x = x + attn(norm1(x)); "
        f"m = mlp(norm2(x)); m = m + up(gelu(down(m))); x = x + m. GELU exact (erf). |",
        f"| `adapter_both` (method `adapter`, placement `both`) | `blocks.i.adapter.{{attn,mlp}}.*`, "
        f"each as above | h = attn(norm1(x)); h = h + up(gelu(down(h))) (the `attn` adapter); x = x + h; "
        f"then the MLP and its adapter as for `adapter`. |",
        f"| `adaptformer` (m = {ADAPTFORMER_DIM}, s = {ADAPTFORMER_SCALE:g}) | "
        f"`blocks.i.adaptformer.down.{{weight,bias}}` ({ADAPTFORMER_DIM},{D}) / ({ADAPTFORMER_DIM}), "
        f"`blocks.i.adaptformer.up.{{weight,bias}}` ({D},{ADAPTFORMER_DIM}) / ({D}) | "
        f"x' = x + attn(norm1(x)); out = x' + mlp(norm2(x')) + s * up(relu(down(x'))) "
        f"(no LayerNorm inside the adapter). In training (not here: eval) the branch is added after the "
        f"MLP's drop path, with dropout 0.1 after the ReLU. |",
        f"| `ssf` | `blocks.i.ssf.<site>.{{scale,shift}}` for site = norm1 ({D}), qkv ({3 * D}), "
        f"proj ({D}), norm2 ({D}), fc1 ({hidden}), fc2 ({D}) | y = y * scale + shift on the output "
        f"of norm1, attn.qkv, attn.proj, norm2, mlp.fc1 (before GELU), mlp.fc2, in every block; and, "
        f"once, `ssf.patch_embed.{{scale,shift}}` ({D}) on the patch tokens (before CLS and pos_embed) "
        f"and `ssf.norm.{{scale,shift}}` ({D}) after the final norm. Here scale ~ N(1, {SSF_STD}^2), "
        f"shift ~ N(0, {SSF_STD}^2) (real init uses 0.02). |",
        f"| `vpt` (deep, P = {VPT_PROMPTS}) | `blocks.i.vpt.prompts` ({VPT_PROMPTS},{D}), "
        f"N(0, {PROMPT_STD:g}^2) | at each block input x = cat(x[:, :1], prompts, x[:, 1:]) "
        f"(no position embedding on prompts); the block runs on N+P tokens; at its output "
        f"tokens 1..P are dropped. The head reads CLS after the final norm. |",
        f"| `bias` (BitFit) | no new tensors | trainable: every backbone bias (list below) and the "
        f"head. `bias.<name>` holds the bias values used: checkpoint + N(0, {BITFIT_STD}^2) noise "
        f"(the head is not perturbed). |",
        "",
        "BitFit biases: " + ", ".join(f"`{n}`" for n in bitfit_names(a["depth"])) + ".",
        "",
        "The script asserts that LoRA with b = 0, adapter / AdaptFormer with up weight and bias",
        "= 0, and SSF with scale = 1, shift = 0 reproduce the plain model's logits; that LoRA and",
        "SSF folded into the backbone weights (W_q += alpha/r b a; W' = diag(scale) W,",
        "b' = scale * b + shift, also into the patch-embedding conv and the final norm) give the same logits through the unmodified forward; that every",
        "method moves the logits by more than 1e-2; and that every stored gradient is non-zero.",
        "",
        "## Keys",
        "",
        "| key | shape |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | ({','.join(map(str, v.shape))}) |" for name, v in out.items()]
    lines.append("")
    with open(os.path.join(PEFT_DIR, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    torch.set_num_threads(1)
    os.makedirs(PEFT_DIR, exist_ok=True)
    out = make_methods_fixture()
    write_readme(out)
    print(f"PEFT fixtures (version {FIXTURE_VERSION}) written to {PEFT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
