#!/usr/bin/python3
"""Generate the reference outputs that test sct's RandAugment ops against Pillow itself.

Run with Debian's system python (numpy + PIL only):

    /usr/bin/python3 tools/make_augment_fixtures.py

timm 0.6.5's auto_augment.py runs every op through Pillow: ImageOps (autocontrast, equalize,
invert, posterize, solarize), Image.point (solarize-add), ImageEnhance (Color, Contrast,
Brightness, Sharpness) and Image.transform / Image.rotate with BICUBIC resampling and a fill
colour. This script applies the same Pillow calls with explicit arguments to one small
non-square input, so the C++ test can compare op by op.

Writes into tests/fixtures/augment/:
  input.png            40x30 RGB; per-channel ranges R 20..200, G 50..180, B 0..255, so that
                       autocontrast and equalize do real work
  <case>.png           Pillow's output for every case in manifest.json
  <case>.mask.png      geometric cases only: 255 where Pillow sampled the input, 0 where it
                       wrote the fill colour (the same transform applied to a white image)
  manifest.json        version, Pillow version, fill colour and the list of cases
                       {name, op, arg, output, mask}

Deterministic: the input comes from a fixed seed and PNG encoding is lossless, so the pixel
values are identical on every run (file bytes may differ across zlib versions).
"""

import json
import os

import numpy as np
import PIL
from PIL import Image, ImageEnhance, ImageOps

FIXTURE_VERSION = 1
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "augment")
WIDTH, HEIGHT = 40, 30  # non-square, so x/y mix-ups in the geometric ops show
FILL = (124, 116, 104)  # timm: ImageNet mean * 255, rounded (the SCT reference's img_mean)


def make_input():
    """Smooth structure (so interpolation differences stay small) plus mild noise."""
    rng = np.random.RandomState(20240501)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    r = 0.5 + 0.5 * np.sin(x / 5.0 + y / 7.0)
    g = 0.5 + 0.5 * np.cos(y / 4.0) * (x / (WIDTH - 1))
    b = (x + y) / (WIDTH + HEIGHT - 2)
    planes = []
    for p, lo, hi in [(r, 20, 200), (g, 50, 180), (b, 0, 255)]:
        v = lo + (hi - lo) * p + rng.normal(0.0, 4.0, p.shape)
        planes.append(np.clip(np.round(v), lo, hi))
    # Pin the extremes of blue so its histogram spans the full 0..255 (autocontrast identity).
    planes[2][0, 0], planes[2][-1, -1] = 0, 255
    return Image.fromarray(np.stack(planes, axis=-1).astype(np.uint8), "RGB")


def solarize_add(img, add, thresh=128):
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * 3)


def geometric_cases(w, h):
    """(name, op, arg, function of (image, fill) -> image) for the geometric ops."""
    def rotate(deg):
        return lambda im, fill: im.rotate(deg, resample=Image.BICUBIC, fillcolor=fill)

    def transform(data):
        return lambda im, fill: im.transform(im.size, Image.AFFINE, data, resample=Image.BICUBIC,
                                             fillcolor=fill)

    cases = []
    for deg in [30.0, -12.7]:
        cases.append(("rotate_%g" % deg, "rotate", deg, rotate(deg)))
    for f in [0.3, -0.13]:
        cases.append(("shear_x_%g" % f, "shear_x", f, transform((1, f, 0, 0, 1, 0))))
    for f in [0.3, -0.21]:
        cases.append(("shear_y_%g" % f, "shear_y", f, transform((1, 0, 0, f, 1, 0))))
    # timm TranslateXRel at magnitude 10 moves by 0.45 * width pixels; also a fractional shift.
    for px in [0.45 * w, -7.3]:
        cases.append(("translate_x_%g" % px, "translate_x", px, transform((1, 0, px, 0, 1, 0))))
    for px in [0.45 * h, -4.0]:
        cases.append(("translate_y_%g" % px, "translate_y", px, transform((1, 0, 0, 0, 1, px))))
    return cases


def pointwise_cases():
    """(name, op, arg, function of image -> image) for the ops Pillow computes per pixel."""
    cases = [
        ("auto_contrast", "auto_contrast", None, ImageOps.autocontrast),
        ("equalize", "equalize", None, ImageOps.equalize),
        ("invert", "invert", None, ImageOps.invert),
    ]
    for bits in [0, 1, 2, 4, 7]:
        cases.append(("posterize_%d" % bits, "posterize", bits,
                      lambda im, b=bits: ImageOps.posterize(im, b)))
    for t in [0, 128, 200, 256]:
        cases.append(("solarize_%d" % t, "solarize", t, lambda im, t=t: ImageOps.solarize(im, t)))
    for a in [50, 110]:
        cases.append(("solarize_add_%d" % a, "solarize_add", a, lambda im, a=a: solarize_add(im, a)))
    enhancers = [("color", ImageEnhance.Color), ("contrast", ImageEnhance.Contrast),
                 ("brightness", ImageEnhance.Brightness), ("sharpness", ImageEnhance.Sharpness)]
    for op, cls in enhancers:
        # timm's range [0.1, 1.9] (0.19 and 1.81 at m = 9); 1.0 is the identity, above 1 extrapolates.
        for f in [0.1, 0.19, 0.55, 1.0, 1.37, 1.81, 1.9]:
            cases.append(("enhance_%s_%g" % (op, f), "enhance_" + op, f,
                          lambda im, cls=cls, f=f: cls(im).enhance(f)))
    return cases


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    img = make_input()
    img.save(os.path.join(OUT_DIR, "input.png"))
    white = Image.new("L", img.size, 255)

    manifest = {"version": FIXTURE_VERSION, "pillow": PIL.__version__, "input": "input.png",
                "fill": list(FILL), "cases": []}
    for name, op, arg, fn in pointwise_cases():
        out = fn(img)
        assert out.mode == "RGB" and out.size == img.size, name
        out.save(os.path.join(OUT_DIR, name + ".png"))
        manifest["cases"].append({"name": name, "op": op, "arg": arg, "output": name + ".png",
                                  "mask": None})
    for name, op, arg, fn in geometric_cases(*img.size):
        fn(img, FILL).save(os.path.join(OUT_DIR, name + ".png"))
        mask = np.asarray(fn(white, 0)) > 0
        Image.fromarray(mask.astype(np.uint8) * 255, "L").save(os.path.join(OUT_DIR, name + ".mask.png"))
        manifest["cases"].append({"name": name, "op": op, "arg": arg, "output": name + ".png",
                                  "mask": name + ".mask.png"})
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
