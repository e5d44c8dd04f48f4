// rnnas/report.h — the study report: one self-contained HTML page (plots by Vega-Lite, inlined).
//
//   rnnas::report::ReportOptions o;
//   o.storage = "har.db"; o.study = "har";                 // o.trial = 12 to detail another trial
//   rnnas::report::write_report(o, "report.html");         // opens offline in any browser
//
// The page shows the Pareto fronts of the validation metric (and the test metric of the finalists)
// against flash, RAM, estimated latency and energy with the budgets drawn as limits; the search's progress
// (best feasible metric and hypervolume against trials and wall time, per strategy or per compared study);
// one trial in detail (architecture, learning curve, confusion matrix or predicted-vs-true plot of its
// int8 model, flash and memory-plan breakdown, estimates against measurements, the deploy command); a
// sortable table of all trials; the study's settings. Everything taken from the data is escaped.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rnnas/data.h"

namespace rnnas::report {

struct ReportOptions {
  std::string storage;               // study file or URL
  std::string study;                 // the study reported ("": the only study of the storage, else "default")
  std::vector<std::string> compare;  // other studies of the storage whose progress is drawn alongside
  int64_t trial = -1;                // the trial shown in detail; -1 = the best feasible one
  // Load the detailed trial's saved model and its dataset, quantise it as the search did and evaluate it
  // (confusion matrix or predicted-vs-true, layer and memory-plan breakdown). Off: the detail shows the
  // stored figures only (what the live report of a running search does between trials).
  bool evaluate = true;
  std::string title;  // default: "rnnas study NAME"
};

// Everything the page shows, as JSON (the page's data island; also useful to other tools).
nlohmann::json report_data(const ReportOptions& o);
// The page: the HTML template, the plotting libraries and `data` inlined; no network needed to open it.
std::string render_html(const nlohmann::json& data);
// report_data + render_html, written atomically (a temporary file renamed over `path`), so a browser or
// a live refresh never sees half a page. Throws rnnas::Error naming the path on I/O errors.
void write_report(const ReportOptions& o, const std::string& path);
// Whether this build carries the plotting libraries (configured with RNNAS_REPORT=ON, the default).
bool available();

}  // namespace rnnas::report
