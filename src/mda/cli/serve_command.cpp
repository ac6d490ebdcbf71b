// mda serve: parses the options and hands them to the HTTP service (src/mda/serve).
#include <iostream>

#include "mda/cli/arg_parser.h"
#include "mda/cli/command_context.h"
#include "mda/config/stage_options.h"
#include "mda/serve/server.h"
#include "mda/util/error.h"
#include "mda/util/strings.h"

namespace mda {

int run_serve(const std::vector<std::string>& args) {
  ArgParser parser(
      "serve",
      "An HTTP/1.1 search service over an index (docs/serve.md): POST /search with a query "
      "image,\nPOST /search/features with descriptors, POST /images?name=N and DELETE "
      "/images/N to change the\nindex (each change is in the write-ahead log, on disk, before "
      "it is answered), GET /metrics,\nGET /healthz and a web page at /. Prints its address "
      "when ready; SIGINT/SIGTERM stop it cleanly.");
  parser.option("--index", "FILE", "index file from mda build-index (never written)", "", true)
      .option("--model", "FILE",
              "model file for image queries and additions (without it: feature queries only)")
      .option("--device", "cpu|cuda", "where the network runs", "cpu")
      .option("--images-root", "DIR", "folder of the indexed images, for GET /images/NAME")
      .option("--wal", "DIR",
              "live index folder: log and compacted generations (default: INDEX.live)")
      .option("--host", "ADDR", "address to listen on", "127.0.0.1")
      .option("--port", "N", "port (0: any free port, printed)", "8080")
      .option("--threads", "N", "requests extracting or searching at once", "1")
      .option("--queue", "N", "requests waiting for those; more are answered 503 at once", "4")
      .option("--connections", "N", "connection threads (each keep-alive connection holds one)",
              "32")
      .option("--max-upload-bytes", "N", "largest request body", "33554432")
      .option("--max-pixels", "N", "largest image (width x height), refused before decoding",
              "40000000")
      .option("--compact-every", "N", "logged changes that trigger a compaction (0: never)",
              "10000")
      .option("--topk", "K", "results per query when the request gives no topk", "100")
      .config_sections({"query_ivf.", "build_ivf.ivf.use_idf", "runtime.threads",
                        "evaluation.image_size", "evaluation.scales", "evaluation.features_num",
                        "evaluation.selection", "evaluation.precision"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  ServeOptions options;
  options.index = parser.get("--index");
  options.model = parser.get("--model");
  options.device = parser.get("--device");
  options.images_root = parser.get("--images-root");
  options.wal = parser.get("--wal");
  options.host = parser.get("--host");
  const auto positive = [&](const char* name, int64_t least) {
    const int64_t value = parser.get_int(name);
    if (value < least)
      throw UsageError(cat("mda serve: ", name, " must be at least ", least, ", found ", value));
    return value;
  };
  options.port = static_cast<int>(positive("--port", 0));
  if (options.port > 65535)
    throw UsageError(cat("mda serve: --port must be 0..65535, found ", options.port));
  options.threads = static_cast<int>(positive("--threads", 1));
  options.queue = static_cast<int>(positive("--queue", 0));
  options.connections = static_cast<int>(positive("--connections", 2));
  options.max_upload_bytes = positive("--max-upload-bytes", 1);
  options.max_pixels = positive("--max-pixels", 1);
  options.compact_every = positive("--compact-every", 0);
  options.default_topk = positive("--topk", 1);
  options.extraction = extraction_options_from_config(config);
  options.extraction.threads = resolve_threads(config);
  options.search = search_options_from_config(config);
  serve(options, [](const std::string& address) {
    std::cout << "mda serve: listening on " << address << std::endl;
  });
  return 0;
}

}  // namespace mda
