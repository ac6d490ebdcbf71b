#include "mda/report/html_report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "mda/image/codec.h"
#include "mda/io/json.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string image_tag(const Image& image, const std::string& css_class, const std::string& title) {
  if (image.empty()) return "<span class=\"missing\">(no image)</span>";
  return "<img class=\"" + css_class + "\" title=\"" + escape(title) + "\" alt=\"" + escape(title) +
         "\" src=\"data:image/jpeg;base64," + base64(encode_image(image, "jpg", 85)) + "\">";
}

std::string number(double value, int digits = 3) {
  std::ostringstream s;
  s.precision(digits);
  s << value;
  return s.str();
}

// A line chart of one or more series of (x, y) points as inline SVG.
struct Series {
  std::string label, colour;
  std::vector<std::pair<double, double>> points;
};

std::string line_chart(const std::string& id, const std::string& title, const std::string& x_label,
                       const std::vector<Series>& series) {
  const double width = 420, height = 220, left = 52, right = 12, top = 26, bottom = 36;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  std::ostringstream svg;
  svg << "<svg class=\"curve\" id=\"" << id << "\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << ' ' << height << "\" role=\"img\" aria-label=\""
      << escape(title) << "\">";
  svg << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height
      << "\" fill=\"#fff\" stroke=\"#ccc\"/>";
  svg << "<text x=\"" << width / 2 << "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">"
      << escape(title) << "</text>";
  if (x0 > x1) {
    svg << "<text x=\"" << width / 2 << "\" y=\"" << height / 2
        << "\" text-anchor=\"middle\" font-size=\"12\">no data</text></svg>";
    return svg.str();
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (width - left - right); };
  const auto py = [&](double y) { return top + (y1 - y) / (y1 - y0) * (height - top - bottom); };
  svg << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - right
      << "\" y2=\"" << height - bottom << "\" stroke=\"#888\"/>";
  svg << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\""
      << height - bottom << "\" stroke=\"#888\"/>";
  svg << "<text x=\"" << left - 4 << "\" y=\"" << top + 4
      << "\" text-anchor=\"end\" font-size=\"10\">" << number(y1) << "</text>";
  svg << "<text x=\"" << left - 4 << "\" y=\"" << height - bottom
      << "\" text-anchor=\"end\" font-size=\"10\">" << number(y0) << "</text>";
  svg << "<text x=\"" << left << "\" y=\"" << height - bottom + 14 << "\" font-size=\"10\">"
      << number(x0) << "</text>";
  svg << "<text x=\"" << width - right << "\" y=\"" << height - bottom + 14
      << "\" text-anchor=\"end\" font-size=\"10\">" << number(x1) << "</text>";
  svg << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 6
      << "\" text-anchor=\"middle\" font-size=\"11\">" << escape(x_label) << "</text>";
  double legend_x = left + 6;
  for (const Series& s : series) {
    svg << "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"" << s.colour << "\" points=\"";
    for (const auto& [x, y] : s.points) svg << px(x) << ',' << py(y) << ' ';
    svg << "\"/>";
    if (s.points.size() < 30) {
      for (const auto& [x, y] : s.points)
        svg << "<circle r=\"2.5\" fill=\"" << s.colour << "\" cx=\"" << px(x) << "\" cy=\"" << py(y)
            << "\"/>";
    }
    svg << "<text x=\"" << legend_x << "\" y=\"" << top + 10 << "\" font-size=\"11\" fill=\""
        << s.colour << "\">" << escape(s.label) << "</text>";
    legend_x += 8.0 * static_cast<double>(s.label.size()) + 16;
  }
  svg << "</svg>";
  return svg.str();
}

// Per validation: the kept features of the validation database by head, each head's mean peak
// attention and the heads' overlap (history.json's validation[].heads).
std::string head_statistics_table(const Value& history) {
  const Value* entries = history.is_dict() ? history.find("validation") : nullptr;
  if (!entries || !entries->is_list()) return "";
  std::ostringstream rows;
  for (const Value& entry : entries->as_list()) {
    const Value* heads = entry.is_dict() ? entry.find("heads") : nullptr;
    if (!heads || !heads->is_dict()) continue;
    const auto join = [&](const char* key, bool integers) {
      std::ostringstream out;
      const Value* list = heads->find(key);
      if (!list || !list->is_list()) return out.str();
      for (size_t i = 0; i < list->as_list().size(); ++i) {
        const Value& v = list->as_list()[i];
        out << (i ? " / " : "");
        if (integers)
          out << v.as_int();
        else
          out << std::setprecision(3) << v.as_double();
      }
      return out.str();
    };
    rows << "<tr><td>" << (entry.find("epoch") ? entry.find("epoch")->as_int() : 0) << "</td><td>"
         << join("features_per_head", true) << "</td><td>" << join("mean_peak_attention", false)
         << "</td><td>" << std::setprecision(3)
         << (heads->find("overlap") ? heads->find("overlap")->as_double() : 0.0) << "</td></tr>";
  }
  if (rows.str().empty()) return "";
  return "<h3>Heads on the validation database</h3><table id=\"head-statistics\"><tr><th>epoch"
         "</th><th>kept features per head</th><th>mean peak attention per head</th><th>overlap "
         "(Bhattacharyya, 1 = identical maps)</th></tr>" +
         rows.str() + "</table>";
}

std::vector<std::pair<double, double>> history_points(const Value& history, const std::string& list,
                                                      const std::string& key) {
  std::vector<std::pair<double, double>> points;
  const Value* entries = history.is_dict() ? history.find(list) : nullptr;
  if (!entries || !entries->is_list()) return points;
  double index = 0;
  for (const Value& entry : entries->as_list()) {
    index += 1;
    const Value* v = entry.is_dict() ? entry.find(key) : nullptr;
    if (!v || !v->is_number()) continue;
    const Value* epoch = entry.find("epoch");
    const double x =
        list == "steps" ? index : (epoch && epoch->is_number() ? epoch->as_double() : index);
    points.emplace_back(x, v->as_double());
  }
  return points;
}

const char* kind_class(ResultKind kind) {
  switch (kind) {
    case ResultKind::kPositive:
      return "positive";
    case ResultKind::kJunk:
      return "junk";
    default:
      return "negative";
  }
}

}  // namespace

std::array<uint8_t, 3> head_colour(int head) {
  static const std::array<std::array<uint8_t, 3>, 10> palette = {{{230, 25, 75},
                                                                  {60, 180, 75},
                                                                  {0, 130, 200},
                                                                  {245, 130, 48},
                                                                  {145, 30, 180},
                                                                  {70, 240, 240},
                                                                  {240, 50, 230},
                                                                  {210, 245, 60},
                                                                  {255, 225, 25},
                                                                  {0, 128, 128}}};
  return palette[static_cast<size_t>(std::abs(head)) % palette.size()];
}

std::array<uint8_t, 3> heat_colour(double value) {
  const double v = std::clamp(value, 0.0, 1.0) * 3.0;
  const auto channel = [](double x) {
    return static_cast<uint8_t>(std::lround(255.0 * std::clamp(x, 0.0, 1.0)));
  };
  return {channel(v), channel(v - 1.0), channel(v - 2.0)};
}

std::string render_report_html(const ReportInputs& in) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
       << escape(in.title) << "</title>\n<style>\n"
       << "body{font-family:sans-serif;margin:20px;color:#222}h1{font-size:22px}"
          "h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}"
          "pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}"
          ".query{display:flex;align-items:center;gap:6px;margin:6px 0;flex-wrap:wrap}"
          ".query .label{width:150px;font-size:12px}"
          "img.thumb{height:72px;border:4px solid #999}"
          "img.query-image{height:72px;border:4px solid #333}"
          "img.positive{border-color:#2a2}img.junk{border-color:#bbb;opacity:.7}"
          "img.negative{border-color:#d22}"
          ".heads{display:flex;flex-wrap:wrap;gap:10px}.heads figure{margin:0}"
          ".heads img{height:180px}figcaption{font-size:12px;text-align:center}"
          ".curves{display:flex;flex-wrap:wrap;gap:12px}"
          ".legend span{display:inline-block;padding:0 6px;margin-right:6px;color:#fff}"
          "</style></head><body>\n";
  html << "<h1>" << escape(in.title) << "</h1>\n";
  if (!in.summary_table.empty())
    html << "<section id=\"summary\"><h2>Evaluation</h2><pre>" << escape(in.summary_table)
         << "</pre></section>\n";

  html << "<section id=\"results\"><h2>Top results per query</h2>"
       << "<p class=\"legend\"><span style=\"background:#2a2\">positive</span>"
       << "<span style=\"background:#bbb\">junk</span>"
       << "<span style=\"background:#d22\">negative</span></p>\n";
  for (const ReportQuery& q : in.queries) {
    html << "<div class=\"query\"><div class=\"label\">" << escape(q.name);
    if (q.average_precision >= 0) html << "<br>AP " << number(100 * q.average_precision, 3);
    html << "</div>" << image_tag(q.thumbnail, "query-image", "query " + q.name);
    for (const ReportResult& r : q.results) {
      html << image_tag(r.thumbnail, std::string("thumb ") + kind_class(r.kind),
                        r.name + " (" + kind_class(r.kind) + ")");
    }
    html << "</div>\n";
  }
  html << "</section>\n";

  if (!in.attention.empty()) {
    html << "<section id=\"attention\"><h2>Attention maps and local features</h2>\n";
    for (const AttentionPanel& panel : in.attention) {
      html << "<h3>" << escape(panel.image_name) << "</h3><div class=\"heads\">";
      html << "<figure>" << image_tag(panel.image, "attention-image", panel.image_name)
           << "<figcaption>image</figcaption></figure>";
      for (size_t h = 0; h < panel.head_overlays.size(); ++h) {
        const auto c = head_colour(static_cast<int>(h));
        html << "<figure>"
             << image_tag(panel.head_overlays[h], "attention-head",
                          "head " + std::to_string(h + 1) + " attention")
             << "<figcaption style=\"color:rgb(" << int(c[0]) << ',' << int(c[1]) << ','
             << int(c[2]) << ")\">head " << h + 1;
        if (h < panel.features_per_head.size())
          html << " (" << panel.features_per_head[h] << " features)";
        html << "</figcaption></figure>";
      }
      html << "<figure>"
           << image_tag(panel.features, "attention-features", "kept local features by head")
           << "<figcaption>kept features, coloured by head</figcaption></figure></div>\n";
    }
    html << "</section>\n";
  }

  if (!in.history.is_null()) {
    html << "<section id=\"training\"><h2>Training</h2><div class=\"curves\">"
         << line_chart(
                "loss-curve", "contrastive loss per step", "optimizer step",
                {{"contrastive", "#1f77b4", history_points(in.history, "steps", "contrastive")}})
         << line_chart("regularizer-curve", "diversity regulariser per step", "optimizer step",
                       {{"L_reg", "#d62728", history_points(in.history, "steps", "diversity")}})
         << line_chart("validation-curve", "validation mAP", "epoch",
                       {{"medium", "#2ca02c", history_points(in.history, "validation", "medium")},
                        {"easy", "#9467bd", history_points(in.history, "validation", "easy")},
                        {"hard", "#8c564b", history_points(in.history, "validation", "hard")}})
         << "</div>" << head_statistics_table(in.history) << "</section>\n";
  }
  if (!in.configuration.empty())
    html << "<section id=\"configuration\"><h2>Configuration</h2><pre>" << escape(in.configuration)
         << "</pre></section>\n";
  if (!in.timings.is_null())
    html << "<section id=\"timings\"><h2>Timings (seconds)</h2><pre>"
         << escape(to_json(in.timings, 2)) << "</pre></section>\n";
  html << "</body></html>\n";
  return html.str();
}

}  // namespace mda
