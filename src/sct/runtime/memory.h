// Process memory figures for benchmarks and reports.
#pragma once

namespace sct {

// Peak resident set size of this process so far, in MiB.
double peak_rss_mb();

}  // namespace sct
