// The pretraining source task: formula-driven images in the manner of FractalDB (Kataoka et al.,
// ACCV 2020). Each class is one random iterated function system (IFS); its images are the attractor
// drawn by the chaos game, each with its own variation (the maps' weights, rotation, flip, scale,
// position, colours), so the class is the shape, not the rendering. The maps are drawn with the
// sigma-factor rule of Anderson & Farrell (WACV 2022, "Improving Fractal Pre-training"), which keeps
// attractors away from both dust and blobs.
//
// Why fractals (docs/pretraining.md): they need no natural image and no label from anyone, so the
// source is disjoint from every target task by construction, and ViTs pretrained on them transfer
// (Nakashima et al., AAAI 2022, fine-tune FractalDB-pretrained ViTs close to ImageNet-pretrained ones).
//
// Everything is a function of the seed: class c's system comes from derive_seed(seed, c), image i of
// a split from derive_seed(seed, split, c * per_class + i), so any thread count gives the same images.
#pragma once
#include <array>
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <random>
#include <vector>

#include "sct/data/image_set.h"

namespace sct {

// x' = A x + t with A = [[a, b], [c, d]], t = (e, f).
struct AffineMap {
  double a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
};

struct Ifs {
  std::vector<AffineMap> maps;
  std::vector<double> probs;  // proportional to |det A|, summing to 1
};

// 2-4 maps, A = R(theta) diag(s1, s2) R(phi) diag(+-1, +-1) with s1 >= s2 in (0, 1) and the
// sigma factor sum(s1 + 2 s2) in [(5 + N) / 2, (6 + N) / 2]; t uniform in [-1, 1]^2.
Ifs sample_ifs(std::mt19937_64& rng);

struct FractalRender {
  int size = 32;          // output side in pixels
  int supersample = 2;    // points are drawn on a (size * supersample)^2 grid, then area-averaged
  int points = 12000;     // chaos-game iterations (the first 20 are discarded)
  bool vary = true;       // per-image variation; false: the canonical, centred, white-on-black drawing
};

// One image of `ifs` (CV_8UC3, RGB). With `vary`: each map's linear part is weighted by U(0.9, 1.1)
// (FractalDB's intra-class augmentation), the attractor is flipped with probability 0.5, scaled to
// U(0.7, 1) of the frame and placed at random inside it, and drawn in a random colour on a random
// background of clearly different brightness. No rotation: as in FractalDB, a class keeps its pose.
cv::Mat render_fractal(const Ifs& ifs, const FractalRender& render, std::mt19937_64& rng);

// Fraction of pixels the canonical drawing covers; classes below min_coverage are redrawn.
double fractal_coverage(const Ifs& ifs, const FractalRender& render);

struct FractalDbSpec {
  int64_t classes = 200;
  int64_t train_per_class = 200;
  int64_t val_per_class = 20;
  int size = 32;
  uint64_t seed = 0;
  double min_coverage = 0.08;
};

struct FractalDb {
  std::vector<Ifs> systems;  // class c's system
  ImageSet train, val;       // class-major order (the loader shuffles)
};

// Throws sct::Error for a spec with no images.
FractalDb make_fractal_db(const FractalDbSpec& spec, int threads = 0);

}  // namespace sct
