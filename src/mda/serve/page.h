// The web page served at "/" (page.html, compiled in: no build step, nothing fetched).
#pragma once

#include <string>

namespace mda {

const std::string& serve_page_html();

}  // namespace mda
