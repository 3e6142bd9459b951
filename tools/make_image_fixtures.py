#!/usr/bin/python3
"""Generate the image-pipeline fixtures: small source images and what PIL makes of them.

FIXTURE_VERSION = 1

Run with Debian's system python (python3-pil + numpy only):

    /usr/bin/python3 tools/make_image_fixtures.py

Writes into tests/fixtures/images/ (see the README.md written there):
  <name>.<ext>              source image (PNG of every 8-bit mode, JPEGs)
  <name>.rgb.png            Image.open(src).convert('RGB'): what decoding must give
  <name>.<W>x<H>.png        ....convert('RGB').resize((W, H), Image.BICUBIC): what resizing must give
  preprocess_<name>_<S>.safetensors   the normalised tensor the model sees (key 'x', NCHW F32)
  manifest.json             the list of cases, read by tests/data/*_test.cpp

This is exactly the reference pipeline (torchvision Resize((S, S), interpolation=3) on a PIL image
opened with .convert('RGB'), ToTensor, Normalize), written with PIL and numpy directly.
Deterministic: contents come from a seeded numpy RandomState; PIL's encoders are deterministic.
"""

import io
import json
import os
import struct
import warnings

import numpy as np
import PIL
from PIL import Image

FIXTURE_VERSION = 1

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "images")

# convert('RGB') of a palette image with a tRNS chunk warns that the transparency is dropped --
# which is the behaviour these fixtures pin down.
warnings.filterwarnings("ignore", message="Palette images with Transparency")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def test_pattern(rng, h, w, channels):
    """Smooth gradients + noise + saturated blocks: exercises the kernel's overshoot and clipping."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        fx, fy = rng.uniform(0.05, 0.4, size=2)
        smooth = 127.5 + 100.0 * np.sin(fx * xx + c) * np.cos(fy * yy - c)
        noise = rng.normal(0.0, 25.0, size=(h, w))
        plane = smooth + noise
        # Hard 0/255 blocks: bicubic rings around them, so rounding and clipping are both hit.
        y0, x0 = rng.randint(0, h // 2), rng.randint(0, w // 2)
        plane[y0:y0 + h // 4, x0:x0 + w // 4] = 255.0 if c % 2 == 0 else 0.0
        planes.append(plane)
    img = np.clip(np.rint(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


def make_sources(rng):
    """name -> (PIL image to save, file name, save kwargs)."""
    sources = {}
    sources["gray_37x53"] = (Image.fromarray(test_pattern(rng, 53, 37, 1), "L"), "gray_37x53.png", {})
    sources["rgb_64x48"] = (Image.fromarray(test_pattern(rng, 48, 64, 3), "RGB"), "rgb_64x48.png", {})

    la = test_pattern(rng, 26, 18, 2)
    sources["la_18x26"] = (Image.fromarray(la, "LA"), "la_18x26.png", {})
    # 16-bit grey opens as mode I; convert('RGB') clips at 255 (it does not scale by 1/257).
    gray16 = (test_pattern(rng, 19, 23, 1).astype(np.uint16) * 4).astype(np.uint16)
    sources["gray16_23x19"] = (Image.fromarray(gray16, "I;16"), "gray16_23x19.png", {})

    rgba = test_pattern(rng, 30, 40, 4)
    rgba[:, :10, 3] = 0  # fully transparent columns still keep their colour under convert('RGB')
    sources["rgba_40x30"] = (Image.fromarray(rgba, "RGBA"), "rgba_40x30.png", {})

    # 16-colour palette; the second variant marks entries transparent (tRNS), which convert('RGB')
    # ignores -- a decoder that composites or keeps alpha would differ.
    pal_idx = (test_pattern(rng, 21, 33, 1) // 16).astype(np.uint8)
    palette = rng.randint(0, 256, size=(16, 3)).astype(np.uint8)
    pal = Image.fromarray(pal_idx, "L").convert("P")
    pal.putpalette(palette.reshape(-1).tolist())
    sources["palette_33x21"] = (pal, "palette_33x21.png", {})
    pal_t = pal.copy()
    sources["palette_trns_33x21"] = (pal_t, "palette_trns_33x21.png",
                                     {"transparency": bytes([0, 255, 128] + [255] * 13)})

    # Smooth photo-like JPEG (4:2:0 chroma subsampling, as most camera and dataset JPEGs).
    sources["photo_50x40"] = (Image.fromarray(test_pattern(rng, 40, 50, 3), "RGB"), "photo_50x40.jpg",
                              {"quality": 90})
    sources["gray_31x29_jpeg"] = (Image.fromarray(test_pattern(rng, 29, 31, 1), "L"), "gray_31x29.jpg",
                                  {"quality": 85})
    # EXIF orientation 6 ("rotate 90"): PIL's open/convert ignores it, so must the decoder.
    exif = Image.Exif()
    exif[0x0112] = 6
    sources["exif_rot_36x20"] = (Image.fromarray(test_pattern(rng, 20, 36, 3), "RGB"), "exif_rot_36x20.jpg",
                                 {"quality": 92, "exif": exif.tobytes()})
    # CMYK (4 components, Adobe's inverted convention, as PIL writes and reads it): PIL converts with its
    # own formula, which OpenCV's CMYK conversion misses by one level.
    sources["cmyk_30x22"] = (Image.fromarray(test_pattern(rng, 22, 30, 4), "CMYK"), "cmyk_30x22.jpg",
                             {"quality": 90})
    # Stray bytes before the end-of-image marker: libjpeg warns ("Corrupt JPEG data: 3 extraneous bytes
    # before marker 0xd9") and decodes; PIL opens it as if nothing happened, and so must the decoder,
    # without libjpeg printing to stderr.
    photo = sources["photo_50x40"][0]
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    sources["extraneous_50x40"] = (data[:-2] + b"\x00\x11\x22" + data[-2:], "extraneous_50x40.jpg", {})
    return sources


# Output sizes (W, H): shrinking (antialiased, support widened), enlarging, one axis each way,
# and the model size 224 once.
RESIZES = {
    "gray_37x53": [(24, 24), (96, 96), (20, 70)],
    "rgb_64x48": [(24, 24), (96, 96), (224, 224), (64, 17)],
    "la_18x26": [(24, 24)],
    "gray16_23x19": [(24, 24)],
    "rgba_40x30": [(24, 24), (96, 96)],
    "palette_33x21": [(24, 24), (96, 96)],
    "palette_trns_33x21": [(24, 24)],
    "photo_50x40": [(24, 24), (96, 96)],
    "gray_31x29_jpeg": [(24, 24), (96, 96)],
    "exif_rot_36x20": [(24, 24)],
    "cmyk_30x22": [(24, 24)],
    "extraneous_50x40": [(24, 24)],
}

PREPROCESS = [("photo_50x40", 24)]


def write_safetensors(path, tensors, metadata):
    """{name: float32 ndarray} -> safetensors, tensors back to back, header padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    hbytes = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for blob in blobs:
            f.write(blob)


def preprocess(path, size, mean, std):
    """torchvision Resize((S,S), 3) + ToTensor + Normalize, in float32 as torch computes it."""
    img = Image.open(path).convert("RGB").resize((size, size), Image.BICUBIC)
    x = np.asarray(img, dtype=np.float32) / np.float32(255.0)          # ToTensor: (H, W, C) / 255
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return x.transpose(2, 0, 1)[None]                                    # (1, 3, S, S)


def write_readme(manifest):
    lines = [
        "# Image-pipeline fixtures",
        "",
        "Fixture version: %d (PIL %s)" % (FIXTURE_VERSION, manifest["pil_version"]),
        "",
        "Generated by `tools/make_image_fixtures.py`; regenerate (deterministic) with:",
        "",
        "    /usr/bin/python3 tools/make_image_fixtures.py",
        "",
        "Each source image is saved in its own mode; `<name>.rgb.png` is PIL's",
        "`Image.open(src).convert('RGB')` (what decoding must give) and `<name>.<W>x<H>.png` is that",
        "image `.resize((W, H), Image.BICUBIC)` (what resizing must give). `preprocess_*.safetensors`",
        "holds `x`, the normalised NCHW float32 input computed with PIL + numpy as torchvision does.",
        "`manifest.json` lists every case; tests/data/*_test.cpp read it.",
        "",
        "| source | PIL mode | size | resized to |",
        "|---|---|---|---|",
    ]
    for e in manifest["images"]:
        sizes = ", ".join("%dx%d" % (r["width"], r["height"]) for r in e["resized"])
        lines.append("| `%s` | %s | %dx%d | %s |" % (e["source"], e["pil_mode"], e["width"], e["height"], sizes))
    lines += ["", "Tolerance: none. The C++ decode, resize and normalisation are required to be bit-identical",
              "to PIL / numpy here (the issue's floor is 1 grey level on 99% of pixels).", ""]
    with open(os.path.join(OUT_DIR, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.RandomState(20240601)
    sources = make_sources(rng)
    manifest = {"fixture_version": FIXTURE_VERSION, "pil_version": PIL.__version__, "images": [],
                "preprocess": []}

    for name, (img, file_name, kwargs) in sources.items():
        src = os.path.join(OUT_DIR, file_name)
        if isinstance(img, bytes):
            with open(src, "wb") as f:
                f.write(img)
        else:
            img.save(src, **kwargs)
        opened = Image.open(src)
        mode = opened.mode
        rgb = opened.convert("RGB")
        rgb.save(os.path.join(OUT_DIR, name + ".rgb.png"))
        entry = {"name": name, "source": file_name, "pil_mode": mode, "width": rgb.width,
                 "height": rgb.height, "decoded": name + ".rgb.png", "resized": []}
        for (w, h) in RESIZES[name]:
            out = "%s.%dx%d.png" % (name, w, h)
            rgb.resize((w, h), Image.BICUBIC).save(os.path.join(OUT_DIR, out))
            entry["resized"].append({"width": w, "height": h, "file": out})
        manifest["images"].append(entry)

    for name, size in PREPROCESS:
        src = sources[name][1]
        out = "preprocess_%s_%d.safetensors" % (name, size)
        x = preprocess(os.path.join(OUT_DIR, src), size, IMAGENET_MEAN, IMAGENET_STD)
        write_safetensors(os.path.join(OUT_DIR, out), {"x": x},
                          {"source": src, "size": str(size), "mean": ",".join(map(str, IMAGENET_MEAN)),
                           "std": ",".join(map(str, IMAGENET_STD))})
        manifest["preprocess"].append({"source": src, "size": size, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                                       "file": out})

    write_readme(manifest)
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print("wrote %d files, %d bytes, to %s" % (len(os.listdir(OUT_DIR)), total, OUT_DIR))


if __name__ == "__main__":
    main()
