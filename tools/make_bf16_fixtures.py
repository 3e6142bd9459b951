#!/usr/bin/python3
"""Mixed-precision parity fixture: what eager PyTorch computes under
torch.autocast("cpu", dtype=torch.bfloat16) for the fixture ViT vit_d12_w24_h3.

    /usr/bin/python3 tools/make_bf16_fixtures.py

Writes tests/fixtures/vit_d12_w24_h3.bf16_32.safetensors with
  x             the input (2, 3, 32, 32), float32
  labels        class indices (as float32)
  logits_bf16   logits under autocast (bf16 GEMMs; LayerNorm, residual and loss in fp32)
  logits_f64    the same model in float64 (the exact reference)
  grad_x_bf16   d(cross-entropy)/dx under autocast: the whole backward through every block
  grad_x_f64    the same in float64
The weights are the ones tools/make_fixtures.py wrote (vit_d12_w24_h3.safetensors), read back here.
autocast's own rounding sets the scale of what a correct bf16 implementation may differ by:
the test allows a small multiple of |bf16 - f64| between sct and this file.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import MODELS, OUT_DIR, VisionTransformer, read_safetensors, write_safetensors  # noqa: E402

NAME, SIZE = "vit_d12_w24_h3", 32


def grad_and_logits(model, x, labels, autocast):
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), labels)
    loss.backward()
    return logits.detach(), x.grad.detach()


def main():
    torch.set_num_threads(1)
    arch = next(m["arch"] for m in MODELS if m["name"] == NAME)
    sd = read_safetensors(os.path.join(OUT_DIR, NAME + ".safetensors"))
    model = VisionTransformer(**arch).float().eval()
    model.load_state_dict(sd)
    model64 = VisionTransformer(**arch).double().eval()
    model64.load_state_dict(sd)
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, SIZE, SIZE, generator=gen)
    labels = torch.tensor([1, 3])
    logits_bf16, grad_bf16 = grad_and_logits(model, x, labels, True)
    logits_64, grad_64 = grad_and_logits(model64, x.double(), labels, False)
    out = {"x": x, "labels": labels.float(), "logits_bf16": logits_bf16.float(), "logits_f64": logits_64,
           "grad_x_bf16": grad_bf16.float(), "grad_x_f64": grad_64}
    path = os.path.join(OUT_DIR, f"{NAME}.bf16_{SIZE}.safetensors")
    write_safetensors(path, out)
    print(f"{path}: max|logits bf16 - f64| = {(logits_bf16.double() - logits_64).abs().max():.3e} "
          f"(max|logit| {logits_64.abs().max():.3f}); "
          f"max|grad bf16 - f64| = {(grad_bf16.double() - grad_64).abs().max():.3e} "
          f"(max|grad| {grad_64.abs().max():.3e})")


if __name__ == "__main__":
    main()
