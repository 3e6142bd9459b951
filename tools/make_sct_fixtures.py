#!/usr/bin/python3
"""Generate the fixtures of the SCT module and of its channel selection (tests/peft/).

FIXTURE_VERSION = 1

Run with Debian's system python (torch + numpy only), after tools/make_fixtures.py:

    /usr/bin/python3 tools/make_sct_fixtures.py

Writes into tests/fixtures/sct/ (see the README.md written there):
  adapter_d2.safetensors   SCT on the vit_d2_w32_h4 fixture model: per case (position, scale
                           variant) the SCT weights, logits and the gradients of a fixed loss
                           with respect to the SCT weights and the input images, in float64
  select_d12.safetensors   class-aware channel selection on the vit_d12_w24_h3 fixture model:
                           labelled images and the expected per-layer scores and top-K indices

The PyTorch side is an independent transcription of the reference code (showlab/SCT, timm
0.6.5 ChannelAdapter and getSalientChannels): advanced-index assignment for the module, one
torch.norm per class over all its images and patch tokens for the score. Deterministic: fixed
seeds, single thread, hand-written safetensors.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import MODELS, OUT_DIR, VisionTransformer, read_safetensors, write_safetensors  # noqa: E402

FIXTURE_VERSION = 1
SCT_DIR = os.path.join(OUT_DIR, "sct")

# --------------------------------------------------------------------------
# The SCT module, as the reference writes it (on a copy, so autograd sees an
# out-of-place graph): x[..., I] += linear(x[..., I]) (* scale).
# --------------------------------------------------------------------------

def sct_update(y, idx, w, b, scale, scaleonx):
    y = y.clone()
    sel = y[..., idx]
    lin = F.linear(sel, w, b)
    if scale is None:  # released ViT code
        y[..., idx] = sel + lin
    elif scaleonx:     # Swin code, scaleonx
        y[..., idx] = sel * scale + lin
    else:              # Swin code
        y[..., idx] = sel + lin * scale
    return y


def attention(attn, x, sct, scale, scaleonx):
    """make_fixtures.Attention.forward with the reference's q / v modules on the qkv output."""
    B, N, C = x.shape
    qkv = attn.qkv(x)
    for part, offset in (("q", 0), ("v", 2 * C)):
        if part in sct:
            idx, w, b = sct[part]
            qkv = sct_update(qkv, idx + offset, w, b, scale, scaleonx)
    qkv = qkv.reshape(B, N, 3, attn.num_heads, C // attn.num_heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    a = ((q @ k.transpose(-2, -1)) * attn.scale).softmax(dim=-1)
    return attn.proj((a @ v).transpose(1, 2).reshape(B, N, C))


def block_forward(blk, x, sct, scale, scaleonx):
    x = x + attention(blk.attn, blk.norm1(x), sct, scale, scaleonx)
    if "attn" in sct:
        idx, w, b = sct["attn"]
        x = sct_update(x, idx, w, b, scale, scaleonx)
    m = blk.mlp(blk.norm2(x))
    if "mlp" in sct:
        idx, w, b = sct["mlp"]
        m = sct_update(m, idx, w, b, scale, scaleonx)
    return x + m


def embed(model, images):
    x = model.patch_embed(images)
    x = torch.cat((model.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
    return x + model.pos_embed


def sct_logits(model, images, sct_by_block, scale, scaleonx):
    x = embed(model, images)
    for i, blk in enumerate(model.blocks):
        x = block_forward(blk, x, sct_by_block.get(i, {}), scale, scaleonx)
    return model.head(model.norm(x)[:, 0])


def load_model(name, dtype):
    cfg = next(m for m in MODELS if m["name"] == name)
    model = VisionTransformer(**cfg["arch"]).to(dtype).eval()
    model.load_state_dict(read_safetensors(os.path.join(OUT_DIR, name + ".safetensors")))
    for p in model.parameters():
        p.requires_grad_(False)
    return model, cfg["arch"]


# --------------------------------------------------------------------------
# Adapter fixture
# --------------------------------------------------------------------------

PARTS = {"attn": ["attn"], "mlp": ["mlp"], "both": ["attn", "mlp"], "qkv": ["q", "v"]}

# name, position, scale, scaleonx, adapted blocks
ADAPTER_CASES = [
    ("attn", "attn", None, False, [0, 1]),
    ("mlp", "mlp", None, False, [0, 1]),
    ("both", "both", None, False, [0, 1]),
    ("qkv", "qkv", None, False, [0, 1]),
    ("attn_scale", "attn", 0.7, False, [0, 1]),
    ("attn_scaleonx", "attn", 0.7, True, [0, 1]),
    ("both_scaleonx", "both", 0.4, True, [0, 1]),
    ("qkv_scale", "qkv", 0.4, False, [0, 1]),
    ("attn_last_block", "attn", None, False, [1]),
]
ADAPTER_K = 8
ADAPTER_BATCH = 2


def make_adapter_fixture():
    name = "vit_d2_w32_h4"
    model, arch = load_model(name, torch.float64)
    model32, _ = load_model(name, torch.float32)
    D, C = arch["embed_dim"], arch["num_classes"]
    gen = torch.Generator().manual_seed(4242)
    images = torch.randn(ADAPTER_BATCH, 3, arch["img_size"], arch["img_size"], generator=gen)
    loss_weights = torch.randn(ADAPTER_BATCH, C, generator=gen)  # loss = sum(logits * r)
    out = {"images": images, "loss_weights": loss_weights}
    worst = 0.0
    for case, position, scale, scaleonx, blocks in ADAPTER_CASES:
        sct, sct32, leaves = {}, {}, {}
        for i in blocks:
            sct[i], sct32[i] = {}, {}
            for part in PARTS[position]:
                # Non-trivial weights (far from the 0.02 init) so that every term matters.
                idx = torch.randperm(D, generator=gen)[:ADAPTER_K].sort().values
                w = (0.3 * torch.randn(ADAPTER_K, ADAPTER_K, generator=gen)).double().requires_grad_()
                b = (0.1 * torch.randn(ADAPTER_K, generator=gen)).double().requires_grad_()
                sct[i][part] = (idx, w, b)
                sct32[i][part] = (idx, w.detach().float(), b.detach().float())
                name = f"blocks.{i}.sct.{part}"  # the C++ parameter name
                out[f"{case}.{name}.indices"] = idx.float()  # small integers: exact in F32
                out[f"{case}.{name}.linear.weight"] = w.detach()
                out[f"{case}.{name}.linear.bias"] = b.detach()
                leaves[name + ".linear.weight"] = w
                leaves[name + ".linear.bias"] = b
        x = images.double().requires_grad_()
        logits = sct_logits(model, x, sct, scale, scaleonx)
        (logits * loss_weights.double()).sum().backward()
        out[f"{case}.logits"] = logits.detach()
        out[f"{case}.grad.images"] = x.grad
        for key, leaf in leaves.items():
            out[f"{case}.grad.{key}"] = leaf.grad
        with torch.no_grad():
            logits32 = sct_logits(model32, images, sct32, scale, scaleonx)
            plain = sct_logits(model, images.double(), {}, None, False)
        worst = max(worst, (logits32.double() - logits.detach()).abs().max().item())
        effect = (logits.detach() - plain).abs().max().item()
        assert effect > 1e-2, f"{case}: SCT changes the logits by only {effect}"
        print(f"adapter {case}: max|logit|={logits.abs().max().item():.3f} SCT effect={effect:.3f} "
              f"max|grad images|={x.grad.abs().max().item():.3f}")
    write_safetensors(os.path.join(SCT_DIR, "adapter_d2.safetensors"), out)
    print(f"adapter: float32-vs-float64 max abs logit err={worst:.2e}")


# --------------------------------------------------------------------------
# Selection fixture
# --------------------------------------------------------------------------

# 9 images, 5 classes: imbalanced (4, 1, 2, 0, 2), class 1 has a single image, class 3 none.
SELECT_LABELS = [0, 0, 2, 0, 4, 1, 2, 4, 0]
SELECT_CLASSES = 5
SELECT_K = 3  # 1/8 of the width 24, the default


def site_features(model, images):
    """Per block, the tensors each selection site sees: patch tokens only (CLS excluded)."""
    x = embed(model, images)
    D = x.shape[-1]
    feats = {k: [] for k in ("attn", "mlp", "mlp_reference", "q", "v")}
    for blk in model.blocks:
        qkv = blk.attn.qkv(blk.norm1(x))
        x_out, attn_residual, mlp_branch = blk.forward_trace(x)
        feats["attn"].append(attn_residual[:, 1:])
        feats["mlp"].append(mlp_branch[:, 1:])
        feats["mlp_reference"].append(x_out[:, 1:])
        feats["q"].append(qkv[:, 1:, :D])
        feats["v"].append(qkv[:, 1:, 2 * D:])
        x = x_out
    return feats


def class_aware_score(f, labels):
    """getSalientChannels: one L2 norm per present class over its images and tokens, then the mean."""
    per_class = [torch.norm(f[labels == c], 2, dim=(0, 1)) for c in torch.unique(labels)]
    return torch.stack(per_class).mean(0)


def dataset_score(f):
    return torch.norm(f, 2, dim=(0, 1))


def top_k(score, k, largest=True):
    """K channels, ties to the lower index, ascending."""
    order = sorted(range(len(score)), key=lambda j: ((-1 if largest else 1) * score[j].item(), j))
    return sorted(order[:k])


def margin(score, k, largest=True):
    s = torch.sort(score, descending=largest).values
    return abs(s[k - 1] - s[k]).item() / s.abs().max().item()


def make_select_fixture():
    name = "vit_d12_w24_h3"
    model, arch = load_model(name, torch.float64)
    model32, _ = load_model(name, torch.float32)
    gen = torch.Generator().manual_seed(9001)
    n = len(SELECT_LABELS)
    images = torch.randn(n, 3, arch["img_size"], arch["img_size"], generator=gen)
    labels = torch.tensor(SELECT_LABELS)
    with torch.no_grad():
        feats = site_features(model, images.double())
        feats32 = site_features(model32, images)
    out = {"images": images, "labels": labels.float()}
    worst_err, worst_margin = 0.0, 1.0
    rankings = [(site, "class", True) for site in feats] + [(site, "class", False) for site in feats]
    rankings.append(("attn", "dataset", True))
    for site, kind, largest in rankings:
        scores, scores32, picks = [], [], []
        for f, f32 in zip(feats[site], feats32[site]):
            score = class_aware_score(f, labels) if kind == "class" else dataset_score(f)
            score32 = class_aware_score(f32, labels) if kind == "class" else dataset_score(f32)
            # The reference's float32 pass must rank the same channels as float64.
            assert top_k(score32.double(), SELECT_K, largest) == top_k(score, SELECT_K, largest), site
            scores.append(score)
            scores32.append(score32.double())
            picks.append(top_k(score, SELECT_K, largest))
            worst_margin = min(worst_margin, margin(score, SELECT_K, largest))
        scores, scores32 = torch.stack(scores), torch.stack(scores32)
        worst_err = max(worst_err, ((scores32 - scores).abs().max() / scores.abs().max()).item())
        strategy = "dataset" if kind == "dataset" else ("salient" if largest else "insalient")
        out[f"{site}.{strategy}.scores"] = scores
        out[f"{site}.{strategy}.indices"] = torch.tensor(picks, dtype=torch.float32)
    # float32 features differ from float64 by worst_err (relative); the top-K gaps must be far larger.
    assert worst_margin > 100 * worst_err, (worst_margin, worst_err)
    # Class awareness must matter on this data, or the test could not tell the two scores apart.
    assert not torch.allclose(out["attn.salient.scores"], out["attn.dataset.scores"])
    write_safetensors(os.path.join(SCT_DIR, "select_d12.safetensors"), out)
    print(f"select: float32-vs-float64 max relative score err={worst_err:.2e}, "
          f"smallest relative top-{SELECT_K} gap={worst_margin:.2e}")


def write_readme():
    lines = [
        "# SCT fixtures",
        "",
        f"Fixture version: {FIXTURE_VERSION}",
        "",
        "Generated by `tools/make_sct_fixtures.py` (deterministic) from the models of",
        "`tools/make_fixtures.py`; regenerate with:",
        "",
        "    /usr/bin/python3 tools/make_sct_fixtures.py",
        "",
        "The PyTorch side transcribes the reference code (showlab/SCT): the module as",
        "`y[..., I] = y[..., I] + linear(y[..., I])` (scale variants of its Swin code), the",
        "selection as one `torch.norm(F[class], dim=(0, 1))` per class present, averaged.",
        "Values are float64 results stored as F32; integer tensors (indices, labels) are stored",
        "as F32 too (exact for these small values).",
        "",
        "## adapter_d2.safetensors (model `vit_d2_w32_h4`, D = 32, 2 blocks, 3 classes)",
        "",
        f"- `images` ({ADAPTER_BATCH},3,32,32) N(0,1); `loss_weights` ({ADAPTER_BATCH},3): loss = sum(logits * loss_weights).",
        f"- per case `<case>`, K = {ADAPTER_K} random channels per part and block, weights N(0, 0.3^2),",
        "  biases N(0, 0.1^2):",
        "  - `<case>.blocks.<i>.sct.<part>.indices` (K): channels within the part's D-wide tensor",
        "    (for `v`: within v, not within the fused qkv output);",
        "  - `<case>.blocks.<i>.sct.<part>.linear.{weight,bias}`;",
        "  - `<case>.logits` (B,3); `<case>.grad.images`; `<case>.grad.blocks.<i>.sct.<part>.linear.{weight,bias}`.",
        "",
        "| case | position | scale | scale_on_x | blocks |",
        "|---|---|---|---|---|",
    ]
    for case, position, scale, scaleonx, blocks in ADAPTER_CASES:
        lines.append(f"| `{case}` | {position} | {scale if scale is not None else '-'} | {scaleonx} | "
                     f"{', '.join(map(str, blocks))} |")
    lines += [
        "",
        "## select_d12.safetensors (model `vit_d12_w24_h3`, D = 24, 12 blocks, 5 classes)",
        "",
        f"- `images` ({len(SELECT_LABELS)},3,32,32) N(0,1); `labels` ({len(SELECT_LABELS)}) = "
        f"{SELECT_LABELS}: class sizes 4, 1, 2, 0, 2.",
        "- `<site>.<strategy>.scores` (12,24): per block, the score of every channel;",
        f"  `<site>.<strategy>.indices` (12,{SELECT_K}): the K = {SELECT_K} kept channels, ascending.",
        "- sites: `attn` (input of norm2), `mlp` (MLP branch output), `mlp_reference` (block",
        "  output, the public code's mlp site), `q` / `v` (q and v slices of the qkv output);",
        "  strategies: `salient` and `insalient` (class-aware Z, top / bottom K) for every site,",
        "  `dataset` (one norm over all images, top K) for `attn`.",
        "- The script asserts that the smallest gap between the K-th and (K+1)-th score is over",
        "  100 times the float32-vs-float64 score error, so the indices are exact expectations.",
        "",
    ]
    with open(os.path.join(SCT_DIR, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    torch.set_num_threads(1)
    os.makedirs(SCT_DIR, exist_ok=True)
    make_adapter_fixture()
    make_select_fixture()
    write_readme()
    print(f"SCT fixtures (version {FIXTURE_VERSION}) written to {SCT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
