#!/usr/bin/python3
"""The data work of bench/data_bench.cpp done the reference's way (PIL + torchvision), in images/s.

    /usr/bin/python3 bench/torchvision_data_bench.py        # needs python3-pil, python3-torchvision

Same recipe of synthetic photo-like JPEGs (gradients + Gaussian noise sd 20, quality 90, 4:2:0), same
sizes, same counts:
  decode+resize   Image.open(...).convert('RGB').resize((224, 224), BICUBIC)  -- 32x32 and 500x375
  resize only     .resize((224, 224), BICUBIC) of a decoded image
  cache build     128 files of 500x375, in-process (1 thread) and with a DataLoader of one worker
                  process per CPU
  augment+norm    one epoch of 256 images at 224, batches of 64: RandomHorizontalFlip +
                  RandAugment + ToTensor + Normalize, DataLoader with 0 workers and one per CPU.
                  timm is not packaged in Debian: torchvision's RandAugment(num_ops=2, magnitude=9)
                  stands in for timm's rand-m9-mstd0.5-inc1 (same kind and number of PIL ops, but
                  every op always applied where timm applies each with p=0.5, so it does more work).
"""

import io
import os
import shutil
import tempfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

MODEL_SIZE = 224
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def synthetic_rgb(w, h, seed):
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = [127.5 + 100.0 * np.sin(0.05 * xx + c) * np.cos(0.07 * yy - c) for c in range(3)]
    img = np.stack(planes, axis=-1) + rng.normal(0.0, 20.0, size=(h, w, 3))
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def jpeg_bytes(w, h, seed):
    buf = io.BytesIO()
    synthetic_rgb(w, h, seed).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def rate(fn, count_per_call, min_seconds=2.0):
    """Images per second of fn(), called until min_seconds have passed (after one warm-up call)."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * count_per_call / elapsed


def decode_resize(data):
    return Image.open(io.BytesIO(data)).convert("RGB").resize((MODEL_SIZE, MODEL_SIZE), Image.BICUBIC)


class Files(Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        img = Image.open(self.paths[i]).convert("RGB").resize((MODEL_SIZE, MODEL_SIZE), Image.BICUBIC)
        return torch.from_numpy(np.asarray(img).copy())


class Augmented(Dataset):
    def __init__(self, images, augment):
        self.images = images
        steps = [transforms.RandomHorizontalFlip()]
        if augment:
            steps.append(transforms.RandAugment(num_ops=2, magnitude=9, interpolation=transforms.InterpolationMode.BICUBIC,
                                                fill=[124, 116, 104]))
        steps += [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
        self.transform = transforms.Compose(steps)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), i % 10


def epoch(loader):
    for _ in loader:
        pass


def main():
    cpus = len(os.sched_getaffinity(0))
    print("torchvision_data_bench: %d CPUs available, torch %s, torchvision %s, PIL %s"
          % (cpus, torch.__version__, torchvision.__version__, Image.__version__))
    for w, h in [(32, 32), (500, 375)]:
        data = jpeg_bytes(w, h, 2)
        print("decode+resize %dx%d -> 224: %8.1f images/s" % (w, h, rate(lambda: decode_resize(data), 1)))
    for w, h in [(32, 32), (500, 375)]:
        img = synthetic_rgb(w, h, 3)
        print("resize only   %dx%d -> 224: %8.1f images/s"
              % (w, h, rate(lambda: img.resize((MODEL_SIZE, MODEL_SIZE), Image.BICUBIC), 1)))

    tmp = tempfile.mkdtemp(prefix="tv_data_bench_")
    try:
        paths = []
        for i in range(128):
            p = os.path.join(tmp, "%d.jpg" % i)
            with open(p, "wb") as f:
                f.write(jpeg_bytes(500, 375, 100 + i))
            paths.append(p)
        files = Files(paths)
        print("cache build 128 x 500x375, 1 thread:      %8.1f images/s"
              % rate(lambda: [files[i] for i in range(len(files))], len(files)))
        loader = DataLoader(files, batch_size=64, num_workers=cpus, persistent_workers=True)
        print("cache build 128 x 500x375, %d workers:     %8.1f images/s" % (cpus, rate(lambda: epoch(loader), len(files))))
    finally:
        shutil.rmtree(tmp)

    images = [synthetic_rgb(MODEL_SIZE, MODEL_SIZE, 1000 + i) for i in range(256)]
    for augment in (False, True):
        for workers in (0, cpus):
            ds = Augmented(images, augment)
            loader = DataLoader(ds, batch_size=64, shuffle=True, drop_last=True, num_workers=workers,
                                persistent_workers=workers > 0)
            print("epoch flip%s+normalise, %d workers: %8.1f images/s"
                  % ("+randaugment" if augment else "", workers, rate(lambda: epoch(loader), 256)))


if __name__ == "__main__":
    main()
