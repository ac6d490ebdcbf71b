// The Python extension module mda._mda: the public C++ API (include/mda) over numpy arrays.
// Descriptors are float32 (read in place when C-contiguous) or float16 (converted); anything else
// is a TypeError/ValueError carrying the C++ message. The GIL is released during extraction,
// k-means, indexing and search. The package around it is python/mda/ (evaluate with a dict,
// the asmk drop-in).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include "mda/live_index.h"
#include "mda/mda.h"
#include "mda/util/error.h"

namespace py = pybind11;

namespace {

[[noreturn]] void value_error(const std::string& message) { throw py::value_error(message); }

// A float32 (n, dim) array viewed in place, or a float16 one converted.
struct Descriptors {
  py::array_t<float> owner;  // keeps the data alive
  const float* data = nullptr;
  int64_t rows = 0, dim = 0;
};

Descriptors descriptors_of(const py::array& array, const char* what) {
  if (array.ndim() != 2)
    value_error(std::string(what) + " must be a 2-d array (descriptors x dim), found " +
                std::to_string(array.ndim()) + " dimensions");
  const py::dtype dtype = array.dtype();
  Descriptors d;
  if (dtype.is(py::dtype::of<float>())) {
    if (!(array.flags() & py::array::c_style))
      value_error(std::string(what) +
                  " must be C-contiguous (numpy.ascontiguousarray makes it so)");
    d.owner = py::reinterpret_borrow<py::array_t<float>>(array);
  } else if (dtype.kind() == 'f' && dtype.itemsize() == 2) {
    d.owner = py::array_t<float, py::array::c_style | py::array::forcecast>(array);
  } else {
    throw py::type_error(std::string(what) + " must be float32 or float16, found " +
                         dtype.attr("name").cast<std::string>());
  }
  d.data = d.owner.data();
  d.rows = array.shape(0);
  d.dim = array.shape(1);
  return d;
}

std::vector<int64_t> ids_of(const py::array& array, int64_t rows, const char* what) {
  if (array.ndim() != 1 || array.shape(0) != rows)
    value_error(std::string(what) + " must be a 1-d array of " + std::to_string(rows) +
                " image ids (one per descriptor), found " + std::to_string(array.ndim()) +
                " dimensions of " + std::to_string(array.ndim() > 0 ? array.shape(0) : 0));
  if (array.dtype().kind() != 'i' && array.dtype().kind() != 'u')
    throw py::type_error(std::string(what) + " must be integers, found " +
                         array.dtype().attr("name").cast<std::string>());
  const auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>(array);
  return std::vector<int64_t>(ids.data(), ids.data() + rows);
}

// Descriptors grouped by image id for DescriptorBatch: the distinct ids ascending (numpy.unique's
// order), the rows regrouped (stable) when the ids are not already non-decreasing.
struct Grouped {
  std::vector<int64_t> image_ids, offsets;
  std::vector<float> regrouped;  // empty when the input was already grouped
  const float* data = nullptr;
};

Grouped group_by_image(const Descriptors& d, const std::vector<int64_t>& ids) {
  Grouped g;
  std::vector<int64_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  bool grouped = true;
  for (size_t i = 1; i < ids.size() && grouped; ++i) grouped = ids[i] >= ids[i - 1];
  if (!grouped)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return ids[static_cast<size_t>(a)] < ids[static_cast<size_t>(b)];
    });
  g.offsets.push_back(0);
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t id = ids[static_cast<size_t>(order[i])];
    if (g.image_ids.empty() || id != g.image_ids.back()) {
      if (!g.image_ids.empty()) g.offsets.push_back(static_cast<int64_t>(i));
      g.image_ids.push_back(id);
    }
  }
  g.offsets.push_back(static_cast<int64_t>(order.size()));
  if (g.image_ids.empty()) g.offsets = {0};
  if (grouped) {
    g.data = d.data;
  } else {
    g.regrouped.resize(static_cast<size_t>(d.rows * d.dim));
    for (size_t i = 0; i < order.size(); ++i)
      std::copy_n(d.data + order[i] * d.dim, d.dim, g.regrouped.data() + i * d.dim);
    g.data = g.regrouped.data();
  }
  return g;
}

template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owned->data(), free_when_done);
}

py::dict features_dict(mda::LocalFeatures&& f) {
  const auto n = static_cast<py::ssize_t>(f.count());
  std::vector<int32_t> locs(static_cast<size_t>(2 * n));
  for (py::ssize_t i = 0; i < n; ++i) {
    locs[static_cast<size_t>(2 * i)] = f.xs[static_cast<size_t>(i)];
    locs[static_cast<size_t>(2 * i + 1)] = f.ys[static_cast<size_t>(i)];
  }
  py::dict d;
  d["vecs"] = to_numpy(std::move(f.descriptors), {n, static_cast<py::ssize_t>(f.dim)});
  d["strengths"] = to_numpy(std::move(f.strengths), {n});
  d["locs"] = to_numpy(std::move(locs), {n, 2});
  d["scales"] = to_numpy(std::move(f.scales), {n});
  d["heads"] = to_numpy(std::move(f.heads), {n});
  return d;
}

std::optional<mda::BoundingBox> box_of(const std::optional<std::vector<double>>& bbox) {
  if (!bbox) return std::nullopt;
  if (bbox->size() != 4) value_error("bbox must be (x1, y1, x2, y2)");
  return mda::BoundingBox{(*bbox)[0], (*bbox)[1], (*bbox)[2], (*bbox)[3]};
}

// An Index that can be closed: calls after close() raise instead of touching freed memory.
class PyIndex {
 public:
  explicit PyIndex(mda::Index index) : index_(std::move(index)) {}
  mda::Index& get() {
    if (!index_) value_error("the index is closed");
    return *index_;
  }
  void close() { index_.reset(); }

 private:
  std::optional<mda::Index> index_;
};

py::tuple search(PyIndex& self, const py::array& vecs, const py::array& imids,
                 std::optional<int64_t> topk, int multiple_assignment, double alpha,
                 double similarity_threshold, bool use_idf, int threads) {
  mda::Index& index = self.get();
  const Descriptors d = descriptors_of(vecs, "vecs");
  const Grouped g = group_by_image(d, ids_of(imids, d.rows, "imids"));
  mda::SearchOptions options;
  options.topk = topk.value_or(0);
  if (topk && *topk < 1) value_error("topk must be positive or None (all images)");
  options.multiple_assignment = multiple_assignment;
  options.alpha = alpha;
  options.similarity_threshold = similarity_threshold;
  options.use_idf = use_idf;
  options.threads = threads;
  mda::SearchRanking ranking;
  {
    py::gil_scoped_release release;
    mda::DescriptorBatch batch{g.data, g.offsets.data(), static_cast<int64_t>(g.image_ids.size()),
                               d.dim};
    ranking = index.rank(batch, options);
  }
  // An empty index ranks nothing: (queries, 0) arrays.
  const auto shape = std::vector<py::ssize_t>{static_cast<py::ssize_t>(ranking.queries),
                                              static_cast<py::ssize_t>(ranking.topk)};
  return py::make_tuple(to_numpy(std::move(ranking.images), shape),
                        to_numpy(std::move(ranking.scores), shape));
}

}  // namespace

PYBIND11_MODULE(_mda, m) {
  m.doc() = "mda: deep local features (MDA) and ASMK* image retrieval, in C++";
  py::register_exception<mda::Error>(m, "Error", PyExc_ValueError);

  py::class_<mda::Extractor>(m, "Extractor",
                             "A trained MDA (or HOW) model file ready to extract the top-n local "
                             "features of an image over several scales, ranked by attention.")
      .def(py::init([](const std::string& model_path, const std::string& device, int image_size,
                       std::vector<double> scales, int64_t features_num, std::string selection,
                       int threads, std::string precision) {
             mda::ExtractionOptions o;
             o.image_size = image_size;
             o.scales = std::move(scales);
             o.features_num = features_num;
             o.selection = std::move(selection);
             o.threads = threads;
             o.precision = std::move(precision);
             py::gil_scoped_release release;
             return mda::Extractor(model_path, o, device);
           }),
           "Loads a model file of `mda import-weights` or `mda train`; device 'cpu' or 'cuda'; "
           "the settings are evaluation.* of the configuration.",
           py::arg("model_path"), py::arg("device") = "cpu", py::arg("image_size") = 1024,
           py::arg("scales") = mda::ExtractionOptions{}.scales, py::arg("features_num") = 1000,
           py::arg("selection") = "joint", py::arg("threads") = 0, py::arg("precision") = "float")
      .def(
          "extract",
          [](const mda::Extractor& e, const py::object& image,
             const std::optional<std::vector<double>>& bbox) {
            const auto box = box_of(bbox);
            mda::LocalFeatures f;
            if (py::isinstance<py::str>(image)) {
              const std::string path = image.cast<std::string>();
              py::gil_scoped_release release;
              f = e.extract(path, box);
            } else if (py::isinstance<py::bytes>(image)) {
              const std::string bytes = image.cast<std::string>();
              py::gil_scoped_release release;
              f = e.extract_encoded(std::vector<uint8_t>(bytes.begin(), bytes.end()), box);
            } else {
              const auto pixels = py::array_t<uint8_t, py::array::c_style>::ensure(image);
              if (!pixels || pixels.ndim() != 3 || pixels.shape(2) != 3)
                value_error("image must be a path, encoded bytes or an H x W x 3 uint8 array");
              py::gil_scoped_release release;
              f = e.extract_rgb(pixels.data(), static_cast<int>(pixels.shape(1)),
                                static_cast<int>(pixels.shape(0)), box);
            }
            return features_dict(std::move(f));
          },
          "Local features of a path, encoded bytes or an H x W x 3 uint8 array (optionally "
          "cropped to bbox) as a dict of numpy arrays.",
          py::arg("image"), py::arg("bbox") = py::none())
      .def(
          "extract_many",
          [](const mda::Extractor& e, const std::vector<std::string>& paths, bool progress) {
            std::vector<mda::LocalFeatures> all;
            {
              py::gil_scoped_release release;
              all = e.extract_many(
                  paths, progress ? mda::ProgressCallback() : [](int64_t, int64_t) {});
            }
            py::list out;
            for (mda::LocalFeatures& f : all) out.append(features_dict(std::move(f)));
            return out;
          },
          "Features of every image of a list, decoded ahead on threads, in list order.",
          py::arg("paths"), py::arg("progress") = true)
      .def_property_readonly("dim", &mda::Extractor::descriptor_dim, "Descriptor dimension.")
      .def_property_readonly("heads", &mda::Extractor::heads, "Number of attention heads.");

  py::class_<mda::Codebook>(m, "Codebook", "A k-means visual codebook (size x dim centroids).")
      .def_static(
          "train",
          [](const py::array& vecs, int64_t size, int iterations, int64_t max_points_per_centroid,
             uint64_t seed, int threads) {
            const Descriptors d = descriptors_of(vecs, "vecs");
            mda::KMeansOptions o;
            o.k = size;
            o.iterations = iterations;
            o.max_points_per_centroid = max_points_per_centroid;
            o.seed = seed;
            o.threads = threads;
            py::gil_scoped_release release;
            return mda::Codebook::train(d.data, d.rows, d.dim, o);
          },
          "k-means on float32 (n, dim) descriptors (asmk/faiss defaults: sampled points capped "
          "per word, Lloyd iterations, seeded); n must be at least size.",
          py::arg("vecs"), py::arg("size"), py::arg("iterations") = 10,
          py::arg("max_points_per_centroid") = 256, py::arg("seed") = 1234, py::arg("threads") = 1)
      .def_static("load", &mda::Codebook::load, "Reads a centroids.npy.", py::arg("path"))
      .def_static(
          "from_centroids",
          [](const py::array& centroids) {
            const Descriptors d = descriptors_of(centroids, "centroids");
            return mda::Codebook::from_centroids(
                std::vector<float>(d.data, d.data + d.rows * d.dim), d.rows, d.dim);
          },
          "A codebook of given float32 (size, dim) centroids.", py::arg("centroids"))
      .def("save", &mda::Codebook::save, "Writes centroids.npy atomically.", py::arg("path"))
      .def_property_readonly(
          "centroids",
          [](py::object self) {  // a read-only view kept alive by the codebook
            const auto& c = self.cast<const mda::Codebook&>();
            py::array_t<float> view({c.k, c.dim}, c.centroids.data(), self);
            py::detail::array_proxy(view.ptr())->flags &=
                ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            return view;
          },
          "The (size, dim) float32 centroids: a read-only view, not a copy.")
      .def_readonly("size", &mda::Codebook::k, "Number of words.")
      .def_readonly("dim", &mda::Codebook::dim, "Descriptor dimension.")
      .def_readonly("fingerprint", &mda::Codebook::fingerprint,
                    "FNV-1a 64 of the centroid bytes; ties an index to its codebook.");

  py::class_<PyIndex>(m, "Index",
                      "An ASMK* (binary=True) or ASMK inverted file over a codebook, with the "
                      "images' names; searches run in parallel with each other.")
      .def(py::init([](const mda::Codebook& codebook, bool binary, int multiple_assignment) {
             mda::IndexOptions o;
             o.binary = binary;
             o.multiple_assignment = multiple_assignment;
             return PyIndex(mda::Index(codebook, o));
           }),
           "An empty index; multiple_assignment: words per database descriptor.",
           py::arg("codebook"), py::arg("binary") = true, py::arg("multiple_assignment") = 1)
      .def_static(
          "open",
          [](const std::string& path) {
            py::gil_scoped_release release;
            return PyIndex(mda::Index::open(path));
          },
          "Memory-maps an index file of Index.save or `mda build-index` (checksums verified).",
          py::arg("path"))
      .def(
          "add",
          [](PyIndex& self, const py::array& vecs, const py::array& imids,
             std::optional<std::vector<std::string>> names, int threads) {
            mda::Index& index = self.get();
            const Descriptors d = descriptors_of(vecs, "vecs");
            const Grouped g = group_by_image(d, ids_of(imids, d.rows, "imids"));
            std::vector<std::string> image_names;
            if (names) {
              if (names->size() != g.image_ids.size())
                value_error("names: " + std::to_string(names->size()) + " names for " +
                            std::to_string(g.image_ids.size()) + " images");
              image_names = std::move(*names);
            } else {  // the images' positions in the index, as asmk's ids
              for (size_t i = 0; i < g.image_ids.size(); ++i)
                image_names.push_back(std::to_string(index.size() + static_cast<int64_t>(i)));
            }
            py::gil_scoped_release release;
            mda::DescriptorBatch batch{g.data, g.offsets.data(),
                                       static_cast<int64_t>(g.image_ids.size()), d.dim};
            index.add(batch, image_names, threads);
          },
          "Adds images: float32 (n, dim) descriptors and one image id per descriptor; names "
          "(one per distinct id, ascending) default to the images' positions.",
          py::arg("vecs"), py::arg("imids"), py::arg("names") = py::none(), py::arg("threads") = 1)
      .def(
          "remove",
          [](PyIndex& self, const std::vector<std::string>& names) { self.get().remove(names); },
          "Removes the named images; the ones after them move up.", py::arg("names"))
      .def("search", &search,
           "Ranks the database for each query image (distinct imids, ascending): returns "
           "(ranks, scores), (queries, topk) arrays of positions best first and their scores.",
           py::arg("vecs"), py::arg("imids"), py::arg("topk") = py::none(),
           py::arg("multiple_assignment") = 5, py::arg("alpha") = 3.0,
           py::arg("similarity_threshold") = 0.0, py::arg("use_idf") = false,
           py::arg("threads") = 1)
      .def(
          "save",
          [](PyIndex& self, const std::string& path) {
            mda::Index& index = self.get();
            py::gil_scoped_release release;
            index.save(path);
          },
          "Writes the index file atomically.", py::arg("path"))
      .def("close", &PyIndex::close, "Frees the index; later calls raise ValueError.")
      .def("__len__", [](PyIndex& self) { return self.get().size(); })
      .def_property_readonly(
          "names", [](PyIndex& self) { return self.get().names(); }, "The images' names, in order.")
      .def_property_readonly(
          "codebook", [](PyIndex& self) { return self.get().codebook(); }, "Its codebook (a copy).")
      .def_property_readonly(
          "stats",
          [](PyIndex& self) {
            const mda::IndexStatistics s = self.get().statistics();
            py::dict d;
            d["images"] = s.images;
            d["entries"] = s.entries;
            d["words"] = s.words;
            d["empty_words"] = s.empty_words;
            d["vectors_per_image"] = s.vectors_per_image;
            d["imbalance"] = s.imbalance;
            d["file_bytes"] = s.file_bytes;
            d["binary"] = s.binary;
            d["multiple_assignment"] = s.multiple_assignment;
            return d;
          },
          "Images, entries, words, empty words, vectors per image, imbalance, file size.");

  m.def(
      "evaluate_file",
      [](const std::string& ground_truth, const py::array& ranks, std::vector<int64_t> kappas) {
        // ranks: (database images, queries) as revisitop's compute_map takes them
        if (ranks.ndim() != 2) value_error("ranks must be a 2-d array (database images x queries)");
        const auto r = py::array_t<int64_t, py::array::c_style | py::array::forcecast>(ranks);
        const int64_t rows = r.shape(0), queries = r.shape(1);
        std::vector<std::vector<int64_t>> per_query(static_cast<size_t>(queries));
        for (int64_t q = 0; q < queries; ++q)
          for (int64_t i = 0; i < rows; ++i)
            per_query[static_cast<size_t>(q)].push_back(r.data()[i * queries + q]);
        const mda::RetrievalScores scores = mda::evaluate(ground_truth, per_query, kappas);
        py::dict out;
        for (const mda::ProtocolScores& p : scores.protocols) {
          py::dict d;
          d["map"] = p.map;
          d["mp"] = p.mp_at_k;
          d["evaluated_queries"] = p.evaluated_queries;
          d["ap"] = to_numpy(std::vector<double>(p.ap), {static_cast<py::ssize_t>(p.ap.size())});
          out[py::str(p.protocol)] = d;
        }
        out["kappas"] = scores.kappas;
        return out;
      },
      "Revisited protocol of a gnd_*.pkl/.json file and (database images, queries) ranks.",
      py::arg("ground_truth"), py::arg("ranks"),
      py::arg("kappas") = std::vector<int64_t>{1, 5, 10});
}
