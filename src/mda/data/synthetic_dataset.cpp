#include "mda/data/synthetic_dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "mda/image/codec.h"
#include "mda/io/json.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/progress.h"
#include "mda/util/random.h"

namespace mda {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kObjectSize = 96;

// The synthetic data keeps its original seeding, so a seed gives the same images as before.
SplitMix64 make_random(uint64_t seed) {
  return SplitMix64(seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
}

// Random sign, +1 or -1.
double random_sign(SplitMix64& random) { return (random.next() & 1) ? 1.0 : -1.0; }

void paint_shapes(Image& canvas, SplitMix64& random, int count, int min_size, int max_size) {
  for (int s = 0; s < count; ++s) {
    const uint8_t color[3] = {static_cast<uint8_t>(random.integer(0, 255)),
                              static_cast<uint8_t>(random.integer(0, 255)),
                              static_cast<uint8_t>(random.integer(0, 255))};
    const int w = random.integer(min_size, max_size), h = random.integer(min_size, max_size);
    const int x0 = random.integer(-w / 2, canvas.width - w / 2);
    const int y0 = random.integer(-h / 2, canvas.height - h / 2);
    const int kind = random.integer(0, 2);  // rectangle, ellipse, stripes
    for (int y = std::max(0, y0); y < std::min(canvas.height, y0 + h); ++y) {
      for (int x = std::max(0, x0); x < std::min(canvas.width, x0 + w); ++x) {
        const double u = (x - x0 + 0.5) / w - 0.5, v = (y - y0 + 0.5) / h - 0.5;
        bool inside = true;
        if (kind == 1) inside = u * u + v * v <= 0.25;
        if (kind == 2) inside = ((x - x0) / 4) % 2 == 0;
        if (!inside) continue;
        for (int c = 0; c < 3; ++c) canvas.at(x, y, c) = color[c];
      }
    }
  }
}

Image make_object(SplitMix64& random) {
  Image object(kObjectSize, kObjectSize);
  const uint8_t base[3] = {static_cast<uint8_t>(random.integer(30, 225)),
                           static_cast<uint8_t>(random.integer(30, 225)),
                           static_cast<uint8_t>(random.integer(30, 225))};
  for (int y = 0; y < kObjectSize; ++y) {
    for (int x = 0; x < kObjectSize; ++x) {
      for (int c = 0; c < 3; ++c) object.at(x, y, c) = base[c];
    }
  }
  paint_shapes(object, random, 10, 10, 40);
  return object;
}

Image make_clutter(SplitMix64& random, int width, int height) {
  Image scene(width, height);
  const double a[3] = {random.uniform(40, 200), random.uniform(40, 200), random.uniform(40, 200)};
  const double b[3] = {random.uniform(-60, 60), random.uniform(-60, 60), random.uniform(-60, 60)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double t = (x + y) / static_cast<double>(width + height);
      for (int c = 0; c < 3; ++c) {
        scene.at(x, y, c) = static_cast<uint8_t>(std::clamp(a[c] + b[c] * t, 0.0, 255.0));
      }
    }
  }
  paint_shapes(scene, random, 14, 6, 30);
  return scene;
}

struct ViewGeometry {
  double scale, angle, cx, cy;  // object centre in the view
};

struct RenderedView {
  Image image;
  std::array<double, 4> box;  // bounding box of the visible object
  double visible_fraction;
};

RenderedView render_view(const Image& object, const ViewGeometry& g, double gain, double bias,
                         SplitMix64& random, int width, int height) {
  RenderedView view{make_clutter(random, width, height), {1e9, 1e9, -1e9, -1e9}, 0};
  const double cs = std::cos(g.angle), sn = std::sin(g.angle);
  int visible = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      // Inverse similarity transform: view pixel -> object pixel.
      const double dx = x + 0.5 - g.cx, dy = y + 0.5 - g.cy;
      const double u = (cs * dx + sn * dy) / g.scale + kObjectSize / 2.0;
      const double v = (-sn * dx + cs * dy) / g.scale + kObjectSize / 2.0;
      if (u < 0 || v < 0 || u >= kObjectSize || v >= kObjectSize) continue;
      ++visible;
      for (int c = 0; c < 3; ++c) {
        const double p = object.at(static_cast<int>(u), static_cast<int>(v), c) * gain + bias;
        view.image.at(x, y, c) = static_cast<uint8_t>(std::clamp(p, 0.0, 255.0));
      }
      view.box[0] = std::min(view.box[0], static_cast<double>(x));
      view.box[1] = std::min(view.box[1], static_cast<double>(y));
      view.box[2] = std::max(view.box[2], x + 1.0);
      view.box[3] = std::max(view.box[3], y + 1.0);
    }
  }
  view.visible_fraction = visible / (g.scale * g.scale * kObjectSize * kObjectSize);
  for (uint8_t& p : view.image.pixels) {
    p = static_cast<uint8_t>(std::clamp(p + random.uniform(-8, 8), 0.0, 255.0));
  }
  return view;
}

// Hides `fraction` of the view's object box behind two clutter patches at random places (each
// patch covers about half of it; they may overlap).
void occlude(RenderedView& view, double fraction, SplitMix64& random) {
  const double bw = view.box[2] - view.box[0], bh = view.box[3] - view.box[1];
  if (fraction <= 0 || bw < 2 || bh < 2) return;
  const double side = std::sqrt(fraction / 2.0);
  for (int patch = 0; patch < 2; ++patch) {
    const int pw = std::max(1, static_cast<int>(bw * side)),
              ph = std::max(1, static_cast<int>(bh * side));
    const int x0 = static_cast<int>(view.box[0] + random.uniform(0, bw - pw));
    const int y0 = static_cast<int>(view.box[1] + random.uniform(0, bh - ph));
    const Image clutter = make_clutter(random, pw, ph);
    for (int y = 0; y < ph; ++y) {
      for (int x = 0; x < pw; ++x) {
        if (x0 + x < 0 || y0 + y < 0 || x0 + x >= view.image.width || y0 + y >= view.image.height)
          continue;
        for (int c = 0; c < 3; ++c) view.image.at(x0 + x, y0 + y, c) = clutter.at(x, y, c);
      }
    }
  }
}

}  // namespace

RevisitedDataset write_synthetic_dataset(const std::string& root, const std::string& name,
                                         const SyntheticDatasetOptions& options) {
  if (options.objects < 1 || options.easy_views < 1 || options.width < 64 || options.height < 64) {
    fail("synthetic dataset needs at least 1 object, 1 easy view and 64x64 images");
  }
  if (!(options.occlusion >= 0 && options.occlusion < 1))
    fail("synthetic dataset: occlusion must be in [0, 1), found ", options.occlusion);
  RevisitedDataset dataset;
  dataset.name = name;
  dataset.folder = join_path(root, name);
  const std::string jpg = join_path(dataset.folder, "jpg");
  make_dirs(jpg);
  SplitMix64 random = make_random(options.seed);
  const int w = options.width, h = options.height;
  const double base_scale = 0.75 * std::min(w, h) / kObjectSize;
  const auto save = [&](const Image& image, const std::string& image_name) {
    write_image(dataset.image_path(image_name), image, 92);
  };
  const int per_object = 1 + options.easy_views + options.hard_views + options.junk_views;
  Progress progress("synthetic dataset",
                    static_cast<int64_t>(options.objects) * per_object + options.distractors,
                    "img");
  for (int o = 0; o < options.objects; ++o) {
    const Image object = make_object(random);
    const auto mild = [&]() {
      return ViewGeometry{
          base_scale * random.uniform(0.8, 1.25), random.uniform(-15, 15) * kPi / 180,
          w / 2.0 + random.uniform(-0.12, 0.12) * w, h / 2.0 + random.uniform(-0.12, 0.12) * h};
    };
    QueryGroundTruth truth;
    char stem[64];
    // Query.
    {
      RenderedView view = render_view(object, mild(), random.uniform(0.9, 1.1),
                                      random.uniform(-10, 10), random, w, h);
      occlude(view, options.occlusion, random);
      std::snprintf(stem, sizeof stem, "q%03d", o);
      save(view.image, stem);
      dataset.queries.push_back(stem);
      truth.bbx = view.box;
      truth.has_bbx = true;
      progress.advance();
    }
    int view_index = 0;
    const auto add_db = [&](RenderedView view, std::vector<int64_t>& list, bool occluded) {
      if (occluded) occlude(view, options.occlusion, random);
      std::snprintf(stem, sizeof stem, "o%03d_v%d", o, view_index++);
      save(view.image, stem);
      list.push_back(static_cast<int64_t>(dataset.database.size()));
      dataset.database.push_back(stem);
      progress.advance();
    };
    for (int v = 0; v < options.easy_views; ++v) {
      add_db(render_view(object, mild(), random.uniform(0.85, 1.15), random.uniform(-15, 15),
                         random, w, h),
             truth.easy, true);
    }
    for (int v = 0; v < options.hard_views; ++v) {
      const double s = random.next() & 1 ? random.uniform(0.5, 0.65) : random.uniform(1.5, 1.8);
      const ViewGeometry g{base_scale * s, random_sign(random) * random.uniform(30, 60) * kPi / 180,
                           w / 2.0 + random.uniform(-0.1, 0.1) * w,
                           h / 2.0 + random.uniform(-0.1, 0.1) * h};
      add_db(
          render_view(object, g, random.uniform(0.6, 1.4), random.uniform(-30, 30), random, w, h),
          truth.hard, true);
    }
    for (int v = 0; v < options.junk_views; ++v) {
      // Centre the object just outside a border so that only a sliver remains visible.
      const double s = base_scale * random.uniform(0.9, 1.1);
      const double half = s * kObjectSize / 2.0;
      const ViewGeometry g{s, 0.0, random.next() & 1 ? -half * 0.75 : w + half * 0.75, h / 2.0};
      add_db(render_view(object, g, 1.0, 0.0, random, w, h), truth.junk, false);
    }
    dataset.gnd.push_back(std::move(truth));
  }
  for (int d = 0; d < options.distractors; ++d) {
    char stem[32];
    std::snprintf(stem, sizeof stem, "d%03d", d);
    save(make_clutter(random, w, h), stem);
    dataset.database.push_back(stem);
    progress.advance();
  }
  progress.finish();
  dataset.gnd_path = join_path(dataset.folder, "gnd_" + name + ".json");
  write_json(dataset.gnd_path, revisited_ground_truth_to_value(dataset));
  return dataset;
}

std::string write_synthetic_training_manifest(const RevisitedDataset& dataset) {
  std::vector<std::string> label(dataset.database.size());
  for (size_t q = 0; q < dataset.gnd.size(); ++q) {
    for (const auto* list : {&dataset.gnd[q].easy, &dataset.gnd[q].hard}) {
      for (int64_t i : *list) label.at(static_cast<size_t>(i)) = cat("object", q);
    }
  }
  std::vector<bool> junk(dataset.database.size(), false);
  for (const QueryGroundTruth& g : dataset.gnd)
    for (int64_t i : g.junk) junk.at(static_cast<size_t>(i)) = true;
  std::string text = "name\tlabel\n";
  for (size_t q = 0; q < dataset.queries.size(); ++q)
    text += cat(dataset.queries[q], "\tobject", q, "\n");
  for (size_t i = 0; i < dataset.database.size(); ++i) {
    if (junk[i] && label[i].empty()) continue;
    text +=
        cat(dataset.database[i], "\t", label[i].empty() ? cat("distractor", i) : label[i], "\n");
  }
  const std::string path = join_path(dataset.folder, "train.tsv");
  write_file_atomic(path, text);
  return path;
}

}  // namespace mda
