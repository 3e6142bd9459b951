#!/usr/bin/python3
"""Generate small parity fixtures for the C++ ViT and its checkpoint loaders.

FIXTURE_VERSION = 1

Run with Debian's system python (torch + numpy only, no timm / safetensors):

    /usr/bin/python3 tools/make_fixtures.py

Writes into tests/fixtures/ (see tests/fixtures/README.md):
  <model>.safetensors     timm-style state dict (F32), hand-serialised
  <model>.npz             same weights in Google's original ViT .npz layout
  <model>.io_<S>.safetensors  input + float64 reference activations at size S

Deterministic and idempotent: every random tensor comes from a torch.Generator
with a fixed seed, and every file is written byte-for-byte reproducibly.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FIXTURE_VERSION = 1

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "fixtures")

# name, architecture, image sizes to evaluate, seed, npz key prefix, compression.
# The two npz variants cover both layouts a loader meets in practice:
# stored + 'opt/target/' prefix, and deflated + no prefix.
MODELS = [
    dict(name="vit_d12_w24_h3",
         arch=dict(img_size=32, patch_size=8, embed_dim=24, depth=12,
                   num_heads=3, mlp_ratio=4, num_classes=5),
         eval_sizes=[32, 48], seed=1201, npz_prefix="opt/target/",
         npz_compressed=False),
    dict(name="vit_d2_w32_h4",
         arch=dict(img_size=32, patch_size=8, embed_dim=32, depth=2,
                   num_heads=4, mlp_ratio=2, num_classes=3),
         eval_sizes=[32, 40], seed=202, npz_prefix="",
         npz_compressed=True),
]

BATCH = 2


# --------------------------------------------------------------------------
# Model: compact transcription of timm 0.6.5 VisionTransformer (inference).
# --------------------------------------------------------------------------

class PatchEmbed(nn.Module):
    def __init__(self, patch_size, in_chans, embed_dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, G*G, D)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # timm 0.6.5 scales after the matmul (mathematically the same as q*scale).
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact erf GELU, as timm
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        return self.forward_trace(x)[0]

    def forward_trace(self, x):
        """Returns (out, attn_residual, mlp_branch)."""
        x = x + self.attn(self.norm1(x))
        attn_residual = x
        mlp_branch = self.mlp(self.norm2(x))
        return x + mlp_branch, attn_residual, mlp_branch


class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, embed_dim, depth, num_heads,
                 mlp_ratio, num_classes, in_chans=3):
        super().__init__()
        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        grid = img_size // patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio)
                                      for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)

    def pos_embed_for(self, img_size):
        """Position embedding for an input of img_size (resampled if needed)."""
        gs_new = img_size // self.patch_size
        if self.pos_embed.shape[1] == 1 + gs_new * gs_new:
            return self.pos_embed
        return resize_pos_embed(self.pos_embed, gs_new)

    def forward(self, x):
        return self.forward_trace(x)["logits"]

    def forward_trace(self, x):
        """Forward pass that also returns every activation we store."""
        assert x.shape[-1] == x.shape[-2], "square inputs only"
        pos_embed = self.pos_embed_for(x.shape[-1])
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + pos_embed
        trace = {"pos_embed": pos_embed}
        for i, block in enumerate(self.blocks):
            x, attn_residual, mlp_branch = block.forward_trace(x)
            trace[f"blocks.{i}.attn_residual"] = attn_residual
            trace[f"blocks.{i}.mlp_branch"] = mlp_branch
            trace[f"blocks.{i}.out"] = x
        features = self.norm(x)[:, 0]  # global_pool='token'
        trace["features"] = features
        trace["logits"] = self.head(features)
        return trace


def resize_pos_embed(posemb, gs_new):
    """timm 0.6.5 resize_pos_embed with one prefix (CLS) token, square grids."""
    posemb_tok, posemb_grid = posemb[:, :1], posemb[0, 1:]
    gs_old = int(math.sqrt(len(posemb_grid)))
    posemb_grid = posemb_grid.reshape(1, gs_old, gs_old, -1).permute(0, 3, 1, 2)
    posemb_grid = F.interpolate(posemb_grid, size=(gs_new, gs_new),
                                mode="bicubic", align_corners=False)
    posemb_grid = posemb_grid.permute(0, 2, 3, 1).reshape(1, gs_new * gs_new, -1)
    return torch.cat([posemb_tok, posemb_grid], dim=1)


def init_random_(model, gen):
    """Give every parameter non-trivial random values so that each one matters
    (zero biases or unit LayerNorm scales would hide loader mistakes)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            randn = torch.randn(p.shape, generator=gen)
            if name in ("cls_token", "pos_embed"):
                p.copy_(0.5 * randn)
            elif "norm" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.1 * randn)
            elif name.endswith(".bias"):
                p.copy_(0.1 * randn)
            else:
                p.copy_(0.2 * randn)


# --------------------------------------------------------------------------
# safetensors: hand-written serialiser (the package is not available).
# --------------------------------------------------------------------------

def write_safetensors(path, tensors):
    """Write {name: tensor} as F32 safetensors, tensors back to back in order."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)  # pad to 8 so the data section is aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """Minimal reader, used only to check our own writer."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    expected_begin = 0
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32" and begin == expected_begin
        expected_begin = end
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    assert expected_begin == len(data), "trailing bytes after tensor data"
    return out


# --------------------------------------------------------------------------
# Google ViT .npz layout: inverse of timm 0.6.5 _load_weights, and timm's
# forward mapping (re-implemented independently) to verify the round trip.
# --------------------------------------------------------------------------

def state_dict_to_npz(sd, num_heads, gen):
    """timm state dict -> Google big_vision/vit_jax style arrays (unprefixed)."""
    f = lambda t: t.detach().to(torch.float32).numpy().copy()
    D = sd["cls_token"].shape[-1]
    H, hd = num_heads, D // num_heads
    w = {
        "embedding/kernel": f(sd["patch_embed.proj.weight"].permute(2, 3, 1, 0)),  # OIHW->HWIO
        "embedding/bias": f(sd["patch_embed.proj.bias"]),
        "cls": f(sd["cls_token"]),
        "Transformer/posembed_input/pos_embedding": f(sd["pos_embed"]),
        "Transformer/encoder_norm/scale": f(sd["norm.weight"]),
        "Transformer/encoder_norm/bias": f(sd["norm.bias"]),
        "head/kernel": f(sd["head.weight"].T),
        "head/bias": f(sd["head.bias"]),
        # Representation layer present in some Google checkpoints; timm (and
        # our loaders) ignore it, so it is random noise here.
        "pre_logits/kernel": f(0.2 * torch.randn(D, D, generator=gen)),
        "pre_logits/bias": f(0.1 * torch.randn(D, generator=gen)),
    }
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        b, p = f"blocks.{i}.", f"Transformer/encoderblock_{i}/"
        mha = p + "MultiHeadDotProductAttention_1/"
        w[p + "LayerNorm_0/scale"] = f(sd[b + "norm1.weight"])
        w[p + "LayerNorm_0/bias"] = f(sd[b + "norm1.bias"])
        qkv_w = sd[b + "attn.qkv.weight"].chunk(3, dim=0)  # each (D_out, D_in)
        qkv_b = sd[b + "attn.qkv.bias"].chunk(3, dim=0)
        for n, wt, bs in zip(("query", "key", "value"), qkv_w, qkv_b):
            w[mha + n + "/kernel"] = f(wt.T.reshape(D, H, hd))
            w[mha + n + "/bias"] = f(bs.reshape(H, hd))
        w[mha + "out/kernel"] = f(sd[b + "attn.proj.weight"].T.reshape(H, hd, D))
        w[mha + "out/bias"] = f(sd[b + "attn.proj.bias"])
        for r in range(2):
            w[p + f"MlpBlock_3/Dense_{r}/kernel"] = f(sd[b + f"mlp.fc{r + 1}.weight"].T)
            w[p + f"MlpBlock_3/Dense_{r}/bias"] = f(sd[b + f"mlp.fc{r + 1}.bias"])
        w[p + "LayerNorm_2/scale"] = f(sd[b + "norm2.weight"])
        w[p + "LayerNorm_2/bias"] = f(sd[b + "norm2.bias"])
        i += 1
    return w


def _n2p(w, t=True):
    """Verbatim logic of timm 0.6.5 _n2p (numpy array -> torch, JAX->torch layout)."""
    if w.ndim == 4 and w.shape[0] == w.shape[1] == w.shape[2] == 1:
        w = w.flatten()
    if t:
        if w.ndim == 4:
            w = w.transpose([3, 2, 0, 1])
        elif w.ndim == 3:
            w = w.transpose([2, 0, 1])
        elif w.ndim == 2:
            w = w.transpose([1, 0])
    return torch.from_numpy(np.ascontiguousarray(w))


def timm_state_dict_from_npz(path, depth):
    """timm 0.6.5 _load_weights mapping, producing a state dict (no model)."""
    w = np.load(path)
    prefix = "opt/target/" if "opt/target/embedding/kernel" in w else ""
    g = lambda k: w[prefix + k]
    sd = {
        "patch_embed.proj.weight": _n2p(g("embedding/kernel")),
        "patch_embed.proj.bias": _n2p(g("embedding/bias")),
        "cls_token": _n2p(g("cls"), t=False),
        "pos_embed": _n2p(g("Transformer/posembed_input/pos_embedding"), t=False),
    }
    for i in range(depth):
        b, p = f"blocks.{i}.", f"Transformer/encoderblock_{i}/"
        mha = p + "MultiHeadDotProductAttention_1/"
        sd[b + "norm1.weight"] = _n2p(g(p + "LayerNorm_0/scale"))
        sd[b + "norm1.bias"] = _n2p(g(p + "LayerNorm_0/bias"))
        sd[b + "attn.qkv.weight"] = torch.cat([
            _n2p(g(f"{mha}{n}/kernel"), t=False).flatten(1).T for n in ("query", "key", "value")])
        sd[b + "attn.qkv.bias"] = torch.cat([
            _n2p(g(f"{mha}{n}/bias"), t=False).reshape(-1) for n in ("query", "key", "value")])
        sd[b + "attn.proj.weight"] = _n2p(g(mha + "out/kernel")).flatten(1)
        sd[b + "attn.proj.bias"] = _n2p(g(mha + "out/bias"))
        sd[b + "norm2.weight"] = _n2p(g(p + "LayerNorm_2/scale"))
        sd[b + "norm2.bias"] = _n2p(g(p + "LayerNorm_2/bias"))
        for r in range(2):
            sd[b + f"mlp.fc{r + 1}.weight"] = _n2p(g(p + f"MlpBlock_3/Dense_{r}/kernel"))
            sd[b + f"mlp.fc{r + 1}.bias"] = _n2p(g(p + f"MlpBlock_3/Dense_{r}/bias"))
    sd["norm.weight"] = _n2p(g("Transformer/encoder_norm/scale"))
    sd["norm.bias"] = _n2p(g("Transformer/encoder_norm/bias"))
    sd["head.weight"] = _n2p(g("head/kernel"))
    sd["head.bias"] = _n2p(g("head/bias"))
    return sd


def write_npz(path, arrays, prefix, compressed):
    """np.savez[_compressed] with every key prefixed (numpy's zip entries use a
    fixed 1980 timestamp, so the output is byte-reproducible)."""
    arrays = {prefix + k: v for k, v in arrays.items()}
    (np.savez_compressed if compressed else np.savez)(path, **arrays)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def assert_same_state_dict(a, b, what):
    assert a.keys() == b.keys(), f"{what}: key mismatch {set(a) ^ set(b)}"
    for k in a:
        assert a[k].shape == b[k].shape, f"{what}: {k} shape {a[k].shape} vs {b[k].shape}"
        assert torch.equal(a[k].float(), b[k].float()), f"{what}: {k} differs"


def make_model_fixtures(cfg):
    """Write the weights (.safetensors, .npz) and io files for one model."""
    name, arch = cfg["name"], cfg["arch"]
    gen = torch.Generator().manual_seed(cfg["seed"])
    model = VisionTransformer(**arch).float().eval()
    init_random_(model, gen)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    st_path = os.path.join(OUT_DIR, name + ".safetensors")
    write_safetensors(st_path, sd)
    assert_same_state_dict(sd, read_safetensors(st_path), st_path)

    npz_path = os.path.join(OUT_DIR, name + ".npz")
    write_npz(npz_path, state_dict_to_npz(sd, arch["num_heads"], gen),
              cfg["npz_prefix"], cfg["npz_compressed"])
    assert_same_state_dict(sd, timm_state_dict_from_npz(npz_path, arch["depth"]), npz_path)

    # Reference activations in float64 so the fixture is as exact as possible;
    # the float32 pass only tells us how much slack the 1e-4 tolerance has.
    model64 = VisionTransformer(**arch).double().eval()
    model64.load_state_dict(sd)
    stats = []
    for size in cfg["eval_sizes"]:
        xgen = torch.Generator().manual_seed(cfg["seed"] * 1000 + size)
        x = torch.randn(BATCH, 3, size, size, generator=xgen)  # float32 input
        with torch.no_grad():
            ref = model64.forward_trace(x.double())
            out32 = model.forward_trace(x)
            assert torch.equal(model64(x.double()), ref["logits"])
        io = {"x": x, "logits": ref["logits"], "features": ref["features"],
              "pos_embed": ref["pos_embed"]}
        io.update({k: v for k, v in ref.items() if k.startswith("blocks.")})
        io = {k: v.to(torch.float32) for k, v in io.items()}
        io_path = os.path.join(OUT_DIR, f"{name}.io_{size}.safetensors")
        write_safetensors(io_path, io)
        f32_err = max((out32[k].double() - ref[k]).abs().max().item() for k in ref)
        stats.append((size, io["logits"].abs().max().item(), f32_err))
    return stats


def write_readme():
    lines = [
        "# Parity fixtures",
        "",
        f"Fixture version: {FIXTURE_VERSION}",
        "",
        "Generated by `tools/make_fixtures.py`; regenerate (deterministic, byte-identical) with:",
        "",
        "    /usr/bin/python3 tools/make_fixtures.py",
        "",
        "Needs only torch (1.13) and numpy; the ViT is a self-contained transcription of",
        "timm 0.6.5 `VisionTransformer` (pre-norm blocks, LayerNorm eps 1e-6, exact erf GELU,",
        "CLS-token head after the final norm). All parameters are random and non-trivial",
        "(weights N(0,0.2), biases N(0,0.1), LayerNorm scales 1+N(0,0.1), cls/pos N(0,0.5)).",
        "",
        "## Models",
        "",
        "| name | img | patch | width | depth | heads | mlp_ratio | classes | eval sizes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in MODELS:
        a = c["arch"]
        lines.append(f"| `{c['name']}` | {a['img_size']} | {a['patch_size']} | {a['embed_dim']} | "
                     f"{a['depth']} | {a['num_heads']} | {a['mlp_ratio']} | {a['num_classes']} | "
                     f"{', '.join(map(str, c['eval_sizes']))} |")
    lines += [
        "",
        "## Files",
        "",
        "- `<name>.safetensors` — timm state dict, F32, timm parameter names",
        "  (`patch_embed.proj.weight`, `cls_token`, `pos_embed`, `blocks.{i}.attn.qkv.weight`, ...).",
        "  Written by hand (tensors back to back, header padded with spaces to 8 bytes).",
        "- `<name>.npz` — the same weights in Google's original ViT `.npz` layout",
        "  (`embedding/kernel` HWIO, `Transformer/encoderblock_{i}/MultiHeadDotProductAttention_1/",
        "  {query,key,value}/kernel` [D,H,hd], `out/kernel` [H,hd,D], `MlpBlock_3/Dense_{0,1}`, ...),",
        "  i.e. the inverse of timm 0.6.5 `_load_weights`; the script asserts that timm's mapping",
        "  reproduces the state dict exactly. Also contains random `pre_logits/kernel|bias`, which",
        "  loaders must ignore.",
        "  - `vit_d12_w24_h3.npz`: every key prefixed `opt/target/`, `np.savez` (stored).",
        "  - `vit_d2_w32_h4.npz`: no prefix, `np.savez_compressed` (deflated).",
        "- `<name>.io_<S>.safetensors` — reference activations for a batch of 2 inputs of size S,",
        "  computed in float64 from the F32 weights and stored as F32:",
        "  - `x` (2,3,S,S): input, N(0,1) (already normalised);",
        "  - `logits` (2,C); `features` (2,D): CLS token after the final norm;",
        "  - `pos_embed` (1,N,D): position embedding actually used — resampled with timm 0.6.5",
        "    `resize_pos_embed` (bicubic, align_corners=False, CLS row kept) when S differs from",
        "    the native 32 (grid 4x4 -> 6x6 for S=48, 4x4 -> 5x5 for S=40);",
        "  - `blocks.{i}.attn_residual` (2,N,D): residual stream after the attention add (input of norm2);",
        "  - `blocks.{i}.mlp_branch` (2,N,D): mlp(norm2(x)) before its residual add;",
        "  - `blocks.{i}.out` (2,N,D): block output.",
        "",
        "## Tolerance",
        "",
        "C++ parity tests compare at **1e-4 max abs error** (float32 compute vs float64 reference).",
        "",
    ]
    with open(os.path.join(OUT_DIR, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    torch.set_num_threads(1)  # keep float32 reductions in a fixed order
    os.makedirs(OUT_DIR, exist_ok=True)
    for cfg in MODELS:
        for size, max_logit, f32_err in make_model_fixtures(cfg):
            print(f"{cfg['name']} S={size}: max|logit|={max_logit:.4f} "
                  f"float32-vs-float64 max abs err={f32_err:.2e}")
    write_readme()
    print(f"fixtures (version {FIXTURE_VERSION}) written to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
