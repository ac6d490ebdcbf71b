// The visual report: one self-contained HTML page (pictures embedded as data URIs, charts as
// inline SVG) with each query's top results marked positive/junk/negative, the attention maps of a
// chosen image per head with its kept local features coloured by head (the paper's Fig. 4),
// training curves, and the run's configuration and timings.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mda/image/image.h"
#include "mda/io/value.h"

namespace mda {

enum class ResultKind { kPositive, kJunk, kNegative };

struct ReportResult {
  std::string name;
  Image thumbnail;
  ResultKind kind = ResultKind::kNegative;
};

struct ReportQuery {
  std::string name;
  Image thumbnail;
  double average_precision = -1;  // Medium protocol, -1 when the query has no positive
  std::vector<ReportResult> results;
};

struct AttentionPanel {
  std::string image_name;
  Image image;
  std::vector<Image> head_overlays;  // one per head, the attention map blended over the image
  Image features;                    // the kept local features, coloured by head
  std::vector<int64_t> features_per_head;
};

struct ReportInputs {
  std::string title = "mda report";
  std::string summary_table;  // preformatted evaluation table
  std::vector<ReportQuery> queries;
  std::vector<AttentionPanel> attention;  // empty without a model
  Value history;                          // trainer's history.json, null when absent
  std::string configuration;              // YAML text
  Value timings;                          // any dict of name -> seconds (or nested)
};

std::string render_report_html(const ReportInputs& inputs);

// The colour of head i in the report (a fixed palette of 10 distinct colours).
std::array<uint8_t, 3> head_colour(int head);
// An attention value in [0, 1] as a heat colour (black, red, yellow, white).
std::array<uint8_t, 3> heat_colour(double value);

}  // namespace mda
