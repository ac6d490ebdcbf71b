// `mda serve`: an HTTP/1.1 search service over a live index (docs/serve.md). The routes parse
// requests and call the library (Extractor, LiveIndex, Index); nothing of the pipeline is here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "mda/options.h"

namespace mda {

struct ServeOptions {
  std::string index;  // base index file (never written)
  std::string model;  // model file; empty: feature queries only
  std::string device = "cpu";
  std::string images_root;  // GET /images/<name> reads ROOT/<name> or ROOT/<name>.jpg
  std::string wal;          // live index folder (default: INDEX.live)
  std::string host = "127.0.0.1";
  int port = 8080;       // 0: any free port
  int threads = 1;       // requests that extract or search at once
  int queue = 4;         // requests waiting for one of those; more get 503 at once
  int connections = 32;  // connection worker threads (keep-alive connections hold one)
  int64_t max_upload_bytes = int64_t{32} << 20;
  int64_t max_pixels = 40'000'000;
  int64_t compact_every = 10'000;  // log records that trigger a compaction (0: never)
  int64_t default_topk = 100;
  ExtractionOptions extraction;
  SearchOptions search;
};

// Serves until SIGINT or SIGTERM, then finishes the requests in flight and returns. `ready`
// receives the address ("http://127.0.0.1:8080") once the socket accepts connections.
void serve(const ServeOptions& options, const std::function<void(const std::string&)>& ready);

}  // namespace mda
