#include "mda/serve/server.h"

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "mda/extractor.h"
#include "mda/image/codec.h"
#include "mda/image/transform.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/live_index.h"
#include "mda/serve/admission.h"
#include "mda/serve/metrics.h"
#include "mda/serve/page.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_stop_pipe = -1;

void on_stop_signal(int signal_number) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  if (g_stop_pipe >= 0) (void)!::write(g_stop_pipe, &byte, 1);
  errno = saved;
}

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A request's failure with its HTTP status; anything else thrown is a 500.
struct HttpError : Error {
  HttpError(int status_, const std::string& message) : Error(message), status(status_) {}
  int status;
};

[[noreturn]] void refuse(int status, const std::string& message) {
  throw HttpError(status, message);
}

void send_json(httplib::Response& res, const Value& body, int status = 200) {
  res.status = status;
  res.set_content(to_json(body, -1), "application/json");
}

// Connection threads with a bounded backlog. A connection arriving when the backlog is full is
// answered on the accepting thread with 503 (the flag below makes every route refuse it), so
// neither the backlog nor the number of threads grows with the load.
thread_local bool g_overloaded = false;

class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t backlog) : backlog_(backlog) {
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~BoundedPool() override { shutdown(); }
  void enqueue(std::function<void()> task) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (tasks_.size() < backlog_) {
        tasks_.push_back(std::move(task));
        lock.unlock();
        ready_.notify_one();
        return;
      }
    }
    g_overloaded = true;
    task();
    g_overloaded = false;
  }
  void shutdown() override {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and every accepted connection was served
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  const size_t backlog_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

// --- request parsing -----------------------------------------------------------------------

int64_t topk_parameter(const httplib::Request& req, int64_t fallback, int64_t images) {
  if (!req.has_param("topk")) return fallback;
  long long value = 0;
  const std::string text = req.get_param_value("topk");
  if (!parse_int(text, value) || value < 1 || value > 100000)
    refuse(400, "topk must be an integer from 1 to 100000, found '" + text + "'");
  return std::min<int64_t>(value, std::max<int64_t>(images, 1));
}

std::optional<BoundingBox> bbox_parameter(const httplib::Request& req) {
  if (!req.has_param("bbox")) return std::nullopt;
  const std::string text = req.get_param_value("bbox");
  const std::vector<std::string> parts = split(text, ',');
  double v[4] = {};
  bool ok = parts.size() == 4;
  for (size_t i = 0; ok && i < 4; ++i)
    ok = parse_double(trim(parts[i]), v[i]) && std::isfinite(v[i]);
  if (!ok || v[0] < 0 || v[1] < 0 || v[2] <= v[0] || v[3] <= v[1])
    refuse(400,
           "bbox must be x1,y1,x2,y2 with 0 <= x1 < x2 and 0 <= y1 < y2, found '" + text + "'");
  return BoundingBox{v[0], v[1], v[2], v[3]};
}

void check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 255 && name.front() != '/';
  for (const char c : name) ok = ok && c > 32 && c < 127 && c != '\\';
  for (const std::string& part : split(name, '/')) ok = ok && part != ".." && part != ".";
  if (!ok)
    refuse(400,
           "an image name must be 1-255 printable ASCII characters without spaces, "
           "backslashes, '.' or '..' segments or a leading '/', found '" +
               name + "'");
}

// The request body, read here rather than by the library: a raw body (whatever its Content-Type;
// curl's --data-binary says form-urlencoded, which the library would cap at 8 kB), or the "image"
// field (else the first file) of a multipart form. The library enforces --max-upload-bytes.
std::string read_upload(const httplib::Request& req, const httplib::ContentReader& read) {
  std::string body;
  if (req.is_multipart_form_data()) {
    std::map<std::string, std::string> files;
    std::string first, current;
    read(
        [&](const httplib::MultipartFormData& part) {
          current = part.name;
          if (first.empty()) first = current;
          files[current].clear();
          return true;
        },
        [&](const char* data, size_t size) {
          files[current].append(data, size);
          return true;
        });
    const auto image = files.find("image");
    if (image != files.end()) return std::move(image->second);
    if (!first.empty()) return std::move(files[first]);
    refuse(400, "the multipart form holds no file (send the image as the field 'image')");
  }
  read([&](const char* data, size_t size) {
    body.append(data, size);
    return true;
  });
  if (body.empty()) refuse(400, "empty request body");
  return body;
}

Image decode_upload(const std::string& bytes, const std::string& source, int64_t max_pixels) {
  try {
    return decode_image(std::vector<uint8_t>(bytes.begin(), bytes.end()), source,
                        DecodeLimits{max_pixels});
  } catch (const ImageTooLargeError& error) {
    refuse(413, error.what());
  } catch (const UnsupportedImageError& error) {
    refuse(415, error.what());
  } catch (const Error& error) {
    refuse(400, error.what());
  }
}

Value hits_json(const std::vector<SearchHit>& hits) {
  Value::List list;
  for (const SearchHit& hit : hits)
    list.push_back(Value::Dict{
        {"name", hit.name}, {"index", hit.index}, {"score", static_cast<double>(hit.score)}});
  return list;
}

std::string endpoint_of(const httplib::Request& req) {
  const std::string& p = req.path;
  if (p == "/search") return "search";
  if (p == "/search/features") return "search_features";
  if (p == "/attention") return "attention";
  if (p == "/admin/compact") return "compact";
  if (p == "/healthz") return "healthz";
  if (p == "/metrics") return "metrics";
  if (p == "/") return "page";
  if (starts_with(p, "/images")) {
    if (req.method == "POST") return "add";
    if (req.method == "DELETE") return "delete";
    return "image";
  }
  return "other";
}

// --- the service ---------------------------------------------------------------------------

class Service {
 public:
  explicit Service(const ServeOptions& options)
      : options_(options),
        live_(options.wal.empty() ? options.index + ".live" : options.wal, options.index),
        admission_(options.threads, options.queue) {
    if (!options.model.empty()) {
      extractor_.emplace(options.model, options.extraction, options.device);
      if (extractor_->descriptor_dim() != live_.index().codebook().dim)
        fail(options.model, ": gives ", extractor_->descriptor_dim(),
             "-d descriptors, the index's codebook has ", live_.index().codebook().dim,
             "-d words (", options.index, ")");
    }
  }

  void routes(httplib::Server& server) {
    server.set_pre_routing_handler([](const httplib::Request&, httplib::Response& res) {
      t_start = Clock::now();
      if (!g_overloaded) return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("Retry-After", "1");
      res.set_header("Connection", "close");
      send_json(res, Value::Dict{{"error", "the server is saturated; retry later"}}, 503);
      return httplib::Server::HandlerResponse::Handled;
    });
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      metrics_.record(endpoint_of(req), res.status, since(t_start));
    });
    server.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
          int status = 500;
          std::string message = "internal error";
          try {
            std::rethrow_exception(error);
          } catch (const HttpError& e) {
            status = e.status;
            message = e.what();
          } catch (const std::exception& e) {
            message = e.what();
          }
          if (status == 503) res.set_header("Retry-After", "1");
          send_json(res, Value::Dict{{"error", message}}, status);
        });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // a handler's own answer
      std::string message = cat("bad request (HTTP ", res.status, ")");
      if (res.status == 404) message = "no such route: " + req.method + " " + req.path;
      if (res.status == 413) message = "the request body is larger than allowed";
      send_json(res, Value::Dict{{"error", message}}, res.status);
    });

    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(serve_page_html(), "text/html; charset=utf-8");
    });
    server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      const LiveIndexStatus status = live_.status();
      send_json(res, Value::Dict{{"status", "ok"},
                                 {"images", live_.index().size()},
                                 {"generation", status.generation},
                                 {"log_records", status.log_records},
                                 {"image_queries", extractor_.has_value()}});
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.prometheus(gauges()), "text/plain; version=0.0.4");
    });
    server.Post("/search", [this](const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader& read) {
      search_image(req, read_upload(req, read), res);
    });
    server.Post("/attention", [this](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& read) {
      attention(req, read_upload(req, read), res);
    });
    server.Post("/search/features", [this](const httplib::Request& req, httplib::Response& res,
                                           const httplib::ContentReader& read) {
      search_features(req, read_upload(req, read), res);
    });
    server.Get("/images", [this](const httplib::Request& req, httplib::Response& res) {
      list_images(req, res);
    });
    server.Post("/images", [this](const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader& read) {
      add_image(req, read_upload(req, read), res);
    });
    server.Delete(R"(/images/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      remove_image(req.matches[1], res);
    });
    server.Get(R"(/images/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      get_image(req, req.matches[1], res);
    });
    // A content-reader route: the library answers 400 to a plain route's POST without a
    // Content-Length (curl -X POST sends none), and compaction needs no body.
    server.Post("/admin/compact", [this](const httplib::Request&, httplib::Response& res,
                                         const httplib::ContentReader&) {
      const Admission::Ticket ticket = enter();
      live_.compact();
      send_json(res, status_json());
    });
  }

 private:
  Admission::Ticket enter() {
    Admission::Ticket ticket = admission_.enter();
    if (!ticket.admitted()) refuse(503, "the server is saturated; retry later");
    return ticket;
  }

  // The search's threads: runtime.threads shared among the requests running now (or lately). A
  // lone query gets every core (its quantization and scan split); concurrent ones get a share
  // each instead of oversubscribing the cores.
  SearchOptions search_options_now() {
    SearchOptions search = options_.search;
    search.threads = std::max(1, options_.search.threads / std::max(1, admission_.sharing()));
    return search;
  }

  const Extractor& extractor() const {
    if (!extractor_)
      refuse(501, "this server was started without --model: only POST /search/features works");
    return *extractor_;
  }

  Value status_json() const {
    const LiveIndexStatus status = live_.status();
    return Value::Dict{{"images", live_.index().size()},
                       {"generation", status.generation},
                       {"log_records", status.log_records}};
  }

  std::string gauges() const {
    const LiveIndexStatus status = live_.status();
    const IndexStatistics stats = live_.index().statistics();
    return cat("# TYPE mda_index_images gauge\nmda_index_images ", stats.images,
               "\n# TYPE mda_index_entries gauge\nmda_index_entries ", stats.entries,
               "\n# TYPE mda_log_records gauge\nmda_log_records ", status.log_records,
               "\n# TYPE mda_log_bytes gauge\nmda_log_bytes ", status.log_bytes,
               "\n# TYPE mda_index_generation gauge\nmda_index_generation ", status.generation,
               "\n# TYPE mda_requests_running gauge\nmda_requests_running ", admission_.running(),
               "\n# TYPE mda_requests_waiting gauge\nmda_requests_waiting ", admission_.waiting(),
               "\n");
  }

  // The uploaded query decoded and `box` checked against its size; `seconds`, when given, gets
  // the decoding time.
  Image decode_query(const std::string& bytes, const std::optional<BoundingBox>& box,
                     double* seconds) const {
    const Clock::time_point start = Clock::now();
    Image image = decode_upload(bytes, "the uploaded image", options_.max_pixels);
    if (seconds) *seconds = since(start);
    if (box && (box->x2 > image.width || box->y2 > image.height))
      refuse(400, cat("bbox reaches past the image (", image.width, "x", image.height, ")"));
    return image;
  }

  void search_image(const httplib::Request& req, const std::string& bytes, httplib::Response& res) {
    const Extractor& net = extractor();
    const int64_t topk = topk_parameter(req, options_.default_topk, live_.index().size());
    const std::optional<BoundingBox> box = bbox_parameter(req);
    const Admission::Ticket ticket = enter();
    SearchOptions search = search_options_now();
    search.topk = topk;
    double decode = 0;
    const Image image = decode_query(bytes, box, &decode);
    const Clock::time_point start = Clock::now();
    const LocalFeatures features =
        net.extract_rgb(image.pixels.data(), image.width, image.height, box);
    const double extract = since(start);
    SearchTimings timings;
    const auto hits = live_.index().search(std::vector<LocalFeatures>{features}, search, &timings);
    send_json(res, Value::Dict{{"results", hits_json(hits.at(0))},
                               {"descriptors", features.count()},
                               {"timings", Value::Dict{{"decode", decode},
                                                       {"extract", extract},
                                                       {"quantize", timings.quantize},
                                                       {"aggregate", timings.aggregate},
                                                       {"scan", timings.scan}}}});
  }

  // Each head's attention map over the query and the kept features, as JPEG data URIs.
  void attention(const httplib::Request& req, const std::string& bytes, httplib::Response& res) {
    const Extractor& net = extractor();
    const std::optional<BoundingBox> box = bbox_parameter(req);
    const Admission::Ticket ticket = enter();
    const Image image = decode_query(bytes, box, nullptr);
    AttentionPicture maps = net.attention_maps(image.pixels.data(), image.width, image.height, box);
    const auto uri = [](RgbImage& picture) {  // the pixels move into an Image, no copy
      Image encodable;
      encodable.width = picture.width;
      encodable.height = picture.height;
      encodable.pixels = std::move(picture.pixels);
      return "data:image/jpeg;base64," + base64(encode_image(encodable, "jpg", 85));
    };
    Value::List heads, counts;
    for (RgbImage& head : maps.heads) heads.push_back(uri(head));
    for (const int64_t count : maps.features_per_head) counts.push_back(count);
    send_json(res, Value::Dict{{"heads", std::move(heads)},
                               {"features", uri(maps.features)},
                               {"features_per_head", std::move(counts)}});
  }

  // A float32 .npy of shape (descriptors, dim): one query's local descriptors.
  void search_features(const httplib::Request& req, const std::string& body,
                       httplib::Response& res) {
    const int64_t topk = topk_parameter(req, options_.default_topk, live_.index().size());
    NdArray array;
    try {
      array = parse_npy(std::vector<uint8_t>(body.begin(), body.end()), "the request body");
    } catch (const Error& error) {
      refuse(400, error.what());
    }
    const int64_t dim = live_.index().codebook().dim;
    if (array.shape.size() != 2 || array.shape[0] < 1 || array.shape[1] != dim)
      refuse(400, cat("the descriptors must have the shape (n, ", dim, ") with n >= 1, found ",
                      array.shape_string()));
    LocalFeatures features;
    features.dim = dim;
    features.descriptors = array.to_float();
    for (size_t i = 0; i < features.descriptors.size(); ++i)
      if (!std::isfinite(features.descriptors[i]))
        refuse(400, cat("descriptor ", i / static_cast<size_t>(dim), " holds a non-finite value"));
    features.strengths.assign(static_cast<size_t>(array.shape[0]), 1.0f);
    const Admission::Ticket ticket = enter();
    SearchOptions search = search_options_now();
    search.topk = topk;
    SearchTimings timings;
    const auto hits = live_.index().search(std::vector<LocalFeatures>{features}, search, &timings);
    send_json(res, Value::Dict{{"results", hits_json(hits.at(0))},
                               {"timings", Value::Dict{{"quantize", timings.quantize},
                                                       {"aggregate", timings.aggregate},
                                                       {"scan", timings.scan}}}});
  }

  void list_images(const httplib::Request& req, httplib::Response& res) const {
    long long offset = 0, limit = 1000;
    if (req.has_param("offset") &&
        (!parse_int(req.get_param_value("offset"), offset) || offset < 0))
      refuse(400, "offset must be a non-negative integer");
    if (req.has_param("limit") &&
        (!parse_int(req.get_param_value("limit"), limit) || limit < 1 || limit > 100000))
      refuse(400, "limit must be an integer from 1 to 100000");
    const std::vector<std::string> names = live_.index().names();
    Value::List page;
    for (size_t i = static_cast<size_t>(offset);
         i < names.size() && i < static_cast<size_t>(offset + limit); ++i)
      page.push_back(names[i]);
    send_json(res, Value::Dict{{"images", static_cast<int64_t>(names.size())},
                               {"offset", static_cast<int64_t>(offset)},
                               {"names", std::move(page)}});
  }

  void add_image(const httplib::Request& req, const std::string& bytes, httplib::Response& res) {
    const Extractor& net = extractor();
    if (!req.has_param("name")) refuse(400, "POST /images needs ?name=NAME");
    const std::string name = req.get_param_value("name");
    check_name(name);
    const Admission::Ticket ticket = enter();
    if (live_.index().contains(name)) refuse(409, "image '" + name + "' is already indexed");
    const Image image = decode_upload(bytes, "image '" + name + "'", options_.max_pixels);
    const LocalFeatures features = net.extract_rgb(image.pixels.data(), image.width, image.height);
    try {
      live_.add(name, features);
    } catch (const Error& error) {
      if (live_.index().contains(name)) refuse(409, error.what());  // added meanwhile
      throw;
    }
    compact_when_due();
    Value body = status_json();
    body.as_dict().insert(body.as_dict().begin(), {"descriptors", features.count()});
    body.as_dict().insert(body.as_dict().begin(), {"name", name});
    send_json(res, body, 201);
  }

  void remove_image(const std::string& name, httplib::Response& res) {
    check_name(name);
    const Admission::Ticket ticket = enter();
    if (!live_.index().contains(name)) refuse(404, "no image '" + name + "' in the index");
    live_.remove(name);
    compact_when_due();
    Value body = status_json();
    body.as_dict().insert(body.as_dict().begin(), {"removed", name});
    send_json(res, body);
  }

  void compact_when_due() {
    if (options_.compact_every > 0 && live_.status().log_records >= options_.compact_every) {
      log_info("serve: ", options_.compact_every, " logged changes, compacting");
      live_.compact();
    }
  }

  // ROOT/NAME or ROOT/NAME.jpg; ?thumb=N gives a JPEG whose longest side is at most N.
  void get_image(const httplib::Request& req, const std::string& name, httplib::Response& res) {
    check_name(name);
    if (options_.images_root.empty()) refuse(404, "this server was started without --images-root");
    std::string path = join_path(options_.images_root, name);
    if (!std::filesystem::is_regular_file(path)) path += ".jpg";
    if (!std::filesystem::is_regular_file(path)) refuse(404, "no image file for '" + name + "'");
    if (!req.has_param("thumb")) {
      const std::vector<uint8_t> bytes = read_file_bytes(path);
      const bool png = bytes.size() > 4 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G';
      res.set_content(reinterpret_cast<const char*>(bytes.data()), bytes.size(),
                      png ? "image/png" : "image/jpeg");
      return;
    }
    long long side = 0;
    if (!parse_int(req.get_param_value("thumb"), side) || side < 16 || side > 2048)
      refuse(400, "thumb must be an integer from 16 to 2048");
    const Image image = read_image(path, DecodeLimits{options_.max_pixels});
    const std::vector<uint8_t> jpeg =
        encode_image(resize_max_side(image, static_cast<int>(side)), "jpg", 85);
    res.set_header("Cache-Control", "max-age=3600");
    res.set_content(reinterpret_cast<const char*>(jpeg.data()), jpeg.size(), "image/jpeg");
  }

  static thread_local Clock::time_point t_start;
  const ServeOptions options_;
  LiveIndex live_;
  std::optional<Extractor> extractor_;
  Admission admission_;
  ServiceMetrics metrics_;
};

thread_local Clock::time_point Service::t_start;

void serve_until_stopped(const ServeOptions& options,
                         const std::function<void(const std::string&)>& ready, int stop_pipe) {
  Service service(options);
  httplib::Server server;
  server.new_task_queue = [&options] {
    return new BoundedPool(static_cast<size_t>(options.connections),
                           static_cast<size_t>(2 * options.connections));
  };
  server.set_payload_max_length(static_cast<size_t>(options.max_upload_bytes));
  server.set_read_timeout(10, 0);
  server.set_write_timeout(10, 0);
  server.set_keep_alive_max_count(100);
  // Headers and body go out in two writes; with Nagle's algorithm the second waits for the
  // client's delayed ACK, 40 ms on Linux, on every keep-alive request.
  server.set_tcp_nodelay(true);
  service.routes(server);

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
  } else if (!server.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port < 0)
    fail("serve: cannot listen on ", options.host, ":", options.port,
         " (in use, or not an address of this machine)");

  std::thread watcher([&] {
    unsigned char signal_number = 0;
    while (::read(stop_pipe, &signal_number, 1) < 0 && errno == EINTR) {
    }
    if (signal_number != 0)
      log_info("serve: ", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
               ", finishing the requests in flight");
    server.stop();
  });
  ready(cat("http://", options.host, ":", port));
  const bool clean = server.listen_after_bind();
  if (g_stop_pipe >= 0) {  // stopped by other means: wake the watcher
    const unsigned char none = 0;
    (void)!::write(g_stop_pipe, &none, 1);
  }
  watcher.join();
  if (!clean) log_warning("serve: the listening socket failed");
}

}  // namespace

void serve(const ServeOptions& options, const std::function<void(const std::string&)>& ready) {
  if (options.threads < 1) fail("serve: --threads must be at least 1, found ", options.threads);
  if (options.queue < 0) fail("serve: --queue must be 0 or more, found ", options.queue);
  if (options.connections < 2)
    fail("serve: --connections must be at least 2, found ", options.connections);
  if (options.max_upload_bytes < 1 || options.max_pixels < 1)
    fail("serve: --max-upload-bytes and --max-pixels must be positive");
  if (options.port < 0 || options.port > 65535)
    fail("serve: --port must be 0..65535, found ", options.port);

  // SIGINT and SIGTERM, whichever thread receives them (libtorch's and OpenMP's threads exist
  // already), write their number into a pipe; a watcher thread reads it and stops the server:
  // in-flight requests finish, then serve() returns.
  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0)
    fail("serve: cannot create a pipe: ", std::strerror(errno));
  g_stop_pipe = pipe_ends[1];
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction previous_int {
  }, previous_term{};
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
  const auto restore_signals = [&] {
    sigaction(SIGINT, &previous_int, nullptr);
    sigaction(SIGTERM, &previous_term, nullptr);
    g_stop_pipe = -1;
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
  };
  try {
    serve_until_stopped(options, ready, pipe_ends[0]);
  } catch (...) {
    restore_signals();
    throw;
  }
  restore_signals();
}

}  // namespace mda
