#!/usr/bin/python3
"""Eager-PyTorch counterpart of `sct bench`, for side-by-side numbers in the same session.

Uses the timm-structured ViT transcription of tools/make_fixtures.py and the Swin transcription of
tools/make_swin_fixtures.py (the models the parity fixtures come from), random weights, synthetic data, and times inference and a training step of
the frozen backbone + new head, after warm-up -- what `sct bench --method none` times. With
`--method sct` every block gets the reference's SCT module (K = width/8 random channels, position
attn, written as the public code writes it: x[:, :, idx] = x[:, :, idx] + linear(x[:, :, idx])),
which trains with the head -- what `sct bench --method sct` times.

    /usr/bin/python3 bench/pytorch_bench.py --batch 16 --steps 3 --threads 2
    /usr/bin/python3 bench/pytorch_bench.py --bf16 ...   # torch.autocast("cpu", bfloat16), as timm's --amp
    OPENBLAS_CORETYPE=SKYLAKEX /usr/bin/python3 bench/pytorch_bench.py ...   # tuned BLAS kernels

Prints one JSON line with the same keys as `sct bench --json`.
"""
import argparse
import ctypes
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_fixtures import VisionTransformer  # noqa: E402
import make_swin_fixtures as swin  # noqa: E402

CONFIGS = {  # width, depth, heads, patch
    "vit_tiny_patch16_224": (192, 12, 3, 16),
    "vit_small_patch16_224": (384, 12, 6, 16),
    "vit_base_patch16_224": (768, 12, 12, 16),
}
SWIN_CONFIGS = {  # embed_dim, depths, heads, window (224 px, patch 4)
    "swin_tiny_patch4_window7_224": (96, [2, 2, 6, 2], [3, 6, 12, 24], 7),
    "swin_base_patch4_window7_224": (128, [2, 2, 18, 2], [4, 8, 16, 32], 7),
}


def blas_core():
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except OSError:
        return ""


class SctBlock(torch.nn.Module):
    """A block with the reference's SCT module on the residual stream after the attention add."""

    def __init__(self, block, width, k):
        super().__init__()
        self.block = block
        self.register_buffer("idx", torch.randperm(width)[:k].sort().values)
        self.linear = torch.nn.Linear(k, k)
        torch.nn.init.trunc_normal_(self.linear.weight, std=0.02)
        torch.nn.init.zeros_(self.linear.bias)

    def forward_trace(self, x):  # what make_fixtures.VisionTransformer calls
        x = x + self.block.attn(self.block.norm1(x))
        x[:, :, self.idx] = x[:, :, self.idx] + self.linear(x[:, :, self.idx])
        attn_residual = x
        mlp_branch = self.block.mlp(self.block.norm2(x))
        return x + mlp_branch, attn_residual, mlp_branch


def add_sct(block, k):
    """The SCT module on Microsoft's Swin block, after the attention residual (as SctBlock)."""
    width = block.norm1.normalized_shape[0]
    block.register_buffer("idx", torch.randperm(width)[:k].sort().values)
    block.linear = torch.nn.Linear(k, k)
    torch.nn.init.trunc_normal_(block.linear.weight, std=0.02)
    torch.nn.init.zeros_(block.linear.bias)

    def adapt(x):
        x[:, :, block.idx] = x[:, :, block.idx] + block.linear(x[:, :, block.idx])
        return x

    block.adapt = adapt


def swin_model(name, num_classes, method):
    dim, depths, heads, window = SWIN_CONFIGS[name]
    model = swin.SwinTransformer(224, 4, dim, depths, heads, window, 4.0, num_classes)
    if method == "sct":  # the paper's blocks: the last 9 of stage 3 and both of stage 4, K = width / 8
        blocks = [(s, j) for s, layer in enumerate(model.layers) for j in range(len(layer.blocks))]
        for s, j in blocks[-(min(9, depths[2]) + depths[3]):]:
            b = model.layers[s].blocks[j]
            add_sct(b, b.norm1.normalized_shape[0] // 8)
    model.forward = lambda x: model.forward_trace(x)["logits"]
    return model


def time_per_call(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vit_base_patch16_224", choices=sorted(CONFIGS) + sorted(SWIN_CONFIGS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="0 = PyTorch's default")
    ap.add_argument("--num-classes", type=int, default=100)
    ap.add_argument("--method", default="none", choices=["none", "sct"])
    ap.add_argument("--bf16", action="store_true",
                    help="mixed precision: torch.autocast('cpu', dtype=torch.bfloat16) around forward and loss")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model in SWIN_CONFIGS:
        model = swin_model(args.model, args.num_classes, args.method)
    else:
        width, depth, heads, patch = CONFIGS[args.model]
        model = VisionTransformer(224, patch, width, depth, heads, 4, args.num_classes)
        if args.method == "sct":
            model.blocks = torch.nn.Sequential(*[SctBlock(b, width, width // 8) for b in model.blocks])
    images = torch.randn(args.batch, 3, 224, 224)
    labels = torch.randint(args.num_classes, (args.batch,))

    model.eval()

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16)

    def infer():
        with torch.inference_mode(), autocast():
            model(images)

    infer_s = time_per_call(infer, args.warmup, args.steps)

    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("head.") or ".linear." in name)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def train():
        opt.zero_grad()
        with autocast():
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()

    train_s = time_per_call(train, args.warmup, args.steps)
    print(json.dumps({
        "impl": "pytorch-eager", "torch_version": torch.__version__, "model": args.model,
        "method": args.method, "precision": "bf16" if args.bf16 else "fp32", "batch": args.batch, "steps": args.steps,
        "threads": torch.get_num_threads(), "blas_core": blas_core(),
        "train_img_per_s": args.batch / train_s, "infer_img_per_s": args.batch / infer_s,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
