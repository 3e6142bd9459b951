// The page sct serve answers GET / with: plain HTML and JavaScript, no build step. Its source is
// src/sct/serve/web_page.html; CMake builds it into the library (web_page.cpp.in).
#pragma once

namespace sct {

const char* web_page();

}  // namespace sct
