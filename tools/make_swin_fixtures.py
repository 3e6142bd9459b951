#!/usr/bin/python3
"""Parity fixtures for the C++ Swin Transformer and its two checkpoint layouts.

Run with Debian's system python (torch only, no timm):

    /usr/bin/python3 tools/make_swin_fixtures.py

The model below is a self-contained transcription of Microsoft's Swin-Transformer
`models/swin_transformer.py` (inference): patch embedding with LayerNorm, window
attention with a relative position bias table, cyclic shift by window/2 in every
second block with Microsoft's -100 attention mask, patch merging (x0, x1, x2, x3 =
offsets (0,0), (1,0), (0,1), (1,1) as (row, column)) at the end of each stage but the
last, final norm, token average, head. A stage no larger than the window attends over
the whole stage, unshifted. Random non-trivial weights.

Writes into tests/fixtures/swin/:
  <name>.pth               Microsoft's release layout: torch.save({"model": state_dict}),
                           downsample at the end of stage s, "head.*", and the
                           relative_position_index / attn_mask buffers
  <name>.safetensors       timm's layout: downsample at the start of stage s + 1,
                           "head.fc.*", no buffers (F32)
  <name>.io.safetensors    input x (2, 3, S, S) and float64 references stored as F32:
                           logits, features (pooled), and for every block
                           layers.<s>.blocks.<j>.attn_residual / .out (timm numbering);
                           logits_no_mask (every shifted block without its mask) and
                           logits_swapped_merge (x1 and x2 swapped in patch merging):
                           what an implementation with either bug would produce.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import OUT_DIR as FIXTURES, read_safetensors, write_safetensors  # noqa: E402

OUT_DIR = os.path.join(FIXTURES, "swin")
BATCH = 2

MODELS = [
    # 32 px, patch 2: stages of 16x16, 8x8, 4x4 tokens with 4x4 windows. Stages 0 and 1 shift their
    # second block; stage 2 is one window (no shift). Two patch mergings.
    dict(name="swin_s3_w16", img_size=32, patch_size=2, embed_dim=16, depths=[2, 2, 2],
         heads=[2, 4, 8], window=4, mlp_ratio=2.0, num_classes=5, seed=1301),
]


def window_partition(x, w):
    B, H, W, C = x.shape
    x = x.view(B, H // w, w, W // w, w, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, C)


def window_reverse(windows, w, H, W):
    B = windows.shape[0] // ((H // w) * (W // w))
    x = windows.view(B, H // w, W // w, w, w, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, -1)


class WindowAttention(nn.Module):
    def __init__(self, dim, window, heads):
        super().__init__()
        self.window, self.heads = window, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij"))
        flat = torch.flatten(coords, 1)
        rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += window - 1
        rel[:, :, 1] += window - 1
        rel[:, :, 0] *= 2 * window - 1
        self.register_buffer("relative_position_index", rel.sum(-1))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(N, N, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, self.heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, N, N)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B_, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim, res, heads, window, shift, mlp_ratio):
        super().__init__()
        if res <= window:
            window, shift = res, 0
        self.res, self.window, self.shift = res, window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        mask = None
        if shift > 0:
            img = torch.zeros(1, res, res, 1)
            cnt = 0
            bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
            for h in bands:
                for w in bands:
                    img[:, h, w, :] = cnt
                    cnt += 1
            mw = window_partition(img, window).squeeze(-1)
            mask = mw.unsqueeze(1) - mw.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        self.register_buffer("attn_mask", mask)
        self.use_mask = True

    def forward(self, x, trace, prefix):
        B, L, C = x.shape
        shortcut = x
        x = self.norm1(x).view(B, self.res, self.res, C)
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        mask = self.attn_mask if self.use_mask else None
        x = self.attn(window_partition(x, self.window), mask)
        x = window_reverse(x, self.window, self.res, self.res)
        if self.shift > 0:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = self.adapt(shortcut + x.reshape(B, L, C))
        trace[prefix + ".attn_residual"] = x
        x = x + self.mlp(self.norm2(x))
        trace[prefix + ".out"] = x
        return x


    def adapt(self, x):
        """What a PEFT module does to the stream after the attention residual (bench/pytorch_bench.py)."""
        return x


class PatchMerging(nn.Module):
    def __init__(self, res, dim):
        super().__init__()
        self.res = res
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)
        self.swap = False

    def forward(self, x):
        B, L, C = x.shape
        x = x.view(B, self.res, self.res, C)
        x0, x1 = x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :]
        x2, x3 = x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]
        if self.swap:
            x1, x2 = x2, x1
        x = torch.cat([x0, x1, x2, x3], -1).view(B, -1, 4 * C)
        return self.reduction(self.norm(x)).to(x.dtype)  # the stream keeps its dtype under autocast


class BasicLayer(nn.Module):
    def __init__(self, dim, res, depth, heads, window, mlp_ratio, downsample):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinBlock(dim, res, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio)
            for i in range(depth)])
        self.downsample = PatchMerging(res, dim) if downsample else None


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        # The dtype of the norm's weights: under CPU autocast (bench/pytorch_bench.py --bf16) the conv
        # gives bf16, which PyTorch 1.13's layer_norm refuses beside fp32 weights.
        return self.norm(self.proj(x).flatten(2).transpose(1, 2).to(self.norm.weight.dtype))


class SwinTransformer(nn.Module):
    """Microsoft's module tree, so state_dict() gives Microsoft's names."""

    def __init__(self, img_size, patch_size, embed_dim, depths, heads, window, mlp_ratio, num_classes, **_):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        res = img_size // patch_size
        self.layers = nn.ModuleList()
        for s, (d, h) in enumerate(zip(depths, heads)):
            self.layers.append(BasicLayer(embed_dim * 2 ** s, res >> s, d, h, window, mlp_ratio,
                                          downsample=s < len(depths) - 1))
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(self.num_features)
        self.head = nn.Linear(self.num_features, num_classes)

    def forward_trace(self, x):
        trace = {}
        x = self.patch_embed(x)
        for s, layer in enumerate(self.layers):
            for j, blk in enumerate(layer.blocks):
                x = blk(x, trace, f"layers.{s}.blocks.{j}")
            if layer.downsample is not None:
                x = layer.downsample(x)
        features = self.norm(x).mean(1)
        trace["features"] = features
        trace["logits"] = self.head(features)
        return trace


def init_random_(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".norm1.weight" in name or ".norm2.weight" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "relative_position_bias_table" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))


def microsoft_to_timm(sd):
    out = {}
    for k, v in sd.items():
        if "relative_position_index" in k or "attn_mask" in k:
            continue
        parts = k.split(".")
        if parts[0] == "layers" and parts[2] == "downsample":
            parts[1] = str(int(parts[1]) + 1)
        elif parts[0] == "head":
            parts = ["head", "fc"] + parts[1:]
        out[".".join(parts)] = v
    return out


def make(cfg):
    gen = torch.Generator().manual_seed(cfg["seed"])
    model = SwinTransformer(**cfg).float().eval()
    init_random_(model, gen)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    name = cfg["name"]
    torch.save({"model": model.state_dict()}, os.path.join(OUT_DIR, name + ".pth"))
    timm_sd = microsoft_to_timm(sd)
    st_path = os.path.join(OUT_DIR, name + ".safetensors")
    write_safetensors(st_path, timm_sd)
    back = read_safetensors(st_path)
    assert all(torch.equal(back[k], timm_sd[k]) for k in timm_sd)

    model64 = SwinTransformer(**cfg).double().eval()
    model64.load_state_dict(sd)
    x = torch.randn(BATCH, 3, cfg["img_size"], cfg["img_size"], generator=gen)
    with torch.no_grad():
        ref = model64.forward_trace(x.double())
        f32 = model.forward_trace(x)
        for layer in model64.layers:
            for blk in layer.blocks:
                blk.use_mask = False
        no_mask = model64.forward_trace(x.double())["logits"]
        for layer in model64.layers:
            for blk in layer.blocks:
                blk.use_mask = True
            if layer.downsample is not None:
                layer.downsample.swap = True
        swapped = model64.forward_trace(x.double())["logits"]
    io = {"x": x, **ref, "logits_no_mask": no_mask, "logits_swapped_merge": swapped}
    write_safetensors(os.path.join(OUT_DIR, name + ".io.safetensors"),
                      {k: v.to(torch.float32) for k, v in io.items()})
    err = max((f32[k].double() - ref[k]).abs().max().item() for k in ref)
    print(f"{name}: max|logit| {ref['logits'].abs().max().item():.3f}, float32 vs float64 {err:.2e}, "
          f"no mask moves logits {(no_mask - ref['logits']).abs().max().item():.3f}, "
          f"swapped merge {(swapped - ref['logits']).abs().max().item():.3f}")


def write_broken_checkpoints():
    """torch.save files with one defect each (tests/fixtures/fuzz/pth_*.pth), for the C++ reader's
    error messages and as fuzz seeds: a tensor view past its storage, a storage entry that is missing,
    an opcode torch.save never writes, and a memo read of a slot never stored."""
    import io
    import zipfile

    good = io.BytesIO()
    torch.save({"model": {"w": torch.arange(6, dtype=torch.float32)}}, good)
    with zipfile.ZipFile(good) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    pkl_name = next(n for n in entries if n.endswith("data.pkl"))
    pkl = entries[pkl_name]
    # In the good pickle the tensor's size is the tuple (6,) written as K\x06\x85 (BININT1 6, TUPLE1).
    assert pkl.count(b"K\x06\x85") == 1 and pkl.count(b"q\x0c") == 1
    cases = {
        "pth_view_past_storage": {pkl_name: pkl.replace(b"K\x06\x85", b"K\x07\x85")},
        "pth_missing_storage": {n: v for n, v in entries.items() if "/data/" not in n},
        "pth_unknown_opcode": {pkl_name: pkl[:2] + b"\xff" + pkl[3:]},
        "pth_memo_never_stored": {pkl_name: pkl.replace(b"q\x0c", b"h\x63", 1)},  # BINPUT 12 -> BINGET 99
    }
    fuzz_dir = os.path.join(FIXTURES, "fuzz")
    for name, changes in cases.items():
        files = changes if name == "pth_missing_storage" else {**entries, **changes}
        with zipfile.ZipFile(os.path.join(fuzz_dir, name + ".pth"), "w", zipfile.ZIP_STORED) as z:
            for n in sorted(files):
                info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
                z.writestr(info, files[n])


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    for cfg in MODELS:
        make(cfg)
    write_broken_checkpoints()
    return 0


if __name__ == "__main__":
    sys.exit(main())
