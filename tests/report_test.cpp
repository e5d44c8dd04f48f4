// The study report: real studies rendered in headless Chromium (plots drawn, no page errors, screenshot),
// escaping of everything taken from the data, and the edge cases (empty, only failed, thousands of trials).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "rnnas/core.h"
#include "rnnas/report.h"
#include "rnnas/search.h"
#include "rnnas/study.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace rnnas;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string chromium() {
  if (const char* env = std::getenv("RNNAS_CHROMIUM"); env && *env) return env;
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (fs::exists(p)) return p;
  return "";
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 65536> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);
  return out;
}

// Headless Chromium with the flags of the issue, its own profile, and virtual time so that the page's
// asynchronous rendering finishes before the DOM is dumped (or the screenshot taken).
std::string browser(const std::string& html, const std::string& what) {
  const std::string exe = chromium();
  if (exe.empty()) return "";
  const std::string profile = test_util::temp_dir() + "chromium-profile";
  return fmt::format(
      "timeout 120 {} --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking "
      "--user-data-dir={} --virtual-time-budget=20000 {} file://{} 2>/dev/null",
      exe, profile, what, fs::absolute(html).string());
}

struct Rendered {
  std::string dom;
  std::string attr(const std::string& name) const {
    const std::regex re("<html[^>]*\\s" + name + "=\"([^\"]*)\"");
    std::smatch m;
    return std::regex_search(dom, m, re) ? m[1].str() : "";
  }
  long count(const std::string& needle) const {
    long n = 0;
    for (size_t p = 0; (p = dom.find(needle, p)) != std::string::npos; p += needle.size()) ++n;
    return n;
  }
};

Rendered render(const std::string& html) {
  const std::string cmd = browser(html, "--dump-dom");
  if (cmd.empty()) ADD_FAILURE() << "chromium not found: scripts/deps.sh installs it (or set RNNAS_CHROMIUM)";
  return {cmd.empty() ? "" : run(cmd)};
}

// Renders and checks the page finished without errors; returns the DOM.
Rendered render_ok(const std::string& html) {
  Rendered r = render(html);
  EXPECT_EQ(r.attr("data-rendered"), "yes") << "the page's plots did not finish rendering";
  EXPECT_EQ(r.attr("data-errors"), "0") << "the page logged errors";
  return r;
}

search::SearchOptions small_search(const std::string& dir, const std::string& data, const std::string& study) {
  search::SearchOptions o;
  o.data = data;
  o.target = "samd21";
  o.space = "tiny";
  o.storage = dir + "study.db";
  o.study = study;
  o.constraints.max_flash_bytes = 16384;
  o.constraints.max_ram_bytes = 4096;
  o.trials = 8;
  o.jobs = 2;
  o.train.epochs = 3;
  o.seed = 3;
  return o;
}

}  // namespace

TEST(Report, RealStudyRendersInChromiumWithItsPlots) {
  const std::string dir = test_util::temp_dir() + "real/";
  fs::create_directories(dir);
  const auto r = search::run_search(small_search(dir, "sine:classes=3,T=32", "sines"));
  ASSERT_FALSE(r.pareto.empty());
  report::ReportOptions o;
  o.storage = dir + "study.db";
  o.study = "sines";
  const auto data = report::report_data(o);
  // The detailed trial is the best feasible one, evaluated as int8 on the test split (it is a finalist).
  ASSERT_TRUE(data["chosen"].is_object());
  EXPECT_EQ(data["chosen"]["n"].get<int64_t>(), search::best_trial(r.trials));
  EXPECT_EQ(data["chosen"]["evaluation"]["kind"], "confusion");
  EXPECT_EQ(data["chosen"]["evaluation"]["split"], "test");
  long total = 0;
  for (const auto& row : data["chosen"]["evaluation"]["matrix"])
    for (const auto& v : row) total += v.get<long>();
  EXPECT_EQ(total, data["chosen"]["evaluation"]["count"].get<long>());
  // Its accuracy is the int8 test accuracy the search stored.
  const auto& best = r.trials[static_cast<size_t>(search::best_trial(r.trials))];
  EXPECT_NEAR(data["chosen"]["evaluation"]["accuracy"].get<double>(), best.metrics.at("test_accuracy"), 1e-9);
  EXPECT_FALSE(data["chosen"]["layers"].empty());
  EXPECT_FALSE(data["chosen"]["buffers"].empty());
  EXPECT_NE(data["chosen"]["deploy_command"].get<std::string>().find("--target samd21 --max-flash 16384 --max-ram 4096"),
            std::string::npos);
  EXPECT_EQ(data["progress"].size(), r.trials.size());  // one point per finished trial

  const std::string html = dir + "report.html";
  report::write_report(o, html);
  const std::string text = read_file(html);
  // Self-contained: no address the browser would fetch.
  EXPECT_EQ(text.find("src=\"http"), std::string::npos);
  EXPECT_EQ(text.find("href=\"http"), std::string::npos);
  const Rendered dom = render_ok(html);
  // Four Pareto plots, four progress plots, and the trial's learning curve, confusion matrix, flash and
  // arena plots: each an SVG with marks drawn.
  EXPECT_GE(std::stol(dom.attr("data-charts").empty() ? "0" : dom.attr("data-charts")), 12);
  EXPECT_GE(dom.count("<svg"), 12);
  EXPECT_GE(dom.count("role=\"graphics-symbol\""), 20) << "plots without marks";
  EXPECT_NE(dom.dom.find("id=\"trial-0\""), std::string::npos);  // the table of all trials
  const std::string shot = dir + "report.png";
  run(browser(html, "--window-size=1400,3600 --screenshot=" + shot));
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 50000u) << "a blank screenshot";
  std::printf("screenshot: %s\n", shot.c_str());
}

TEST(Report, EverythingFromTheDataIsEscaped) {
  // A dataset whose class names are markup, in a study whose name is markup.
  const std::string dir = test_util::temp_dir() + "escape/";
  fs::create_directories(dir + "seq");
  const std::string labels[] = {"<script>window.pwned=1</script>", "<img src=x onerror=window.pwned=2>", "a&b"};
  std::ofstream manifest(dir + "manifest.csv");
  manifest << "file,label\n";
  for (int i = 0; i < 90; ++i) {
    const int c = i % 3;
    const std::string f = fmt::format("seq/s{}.csv", i);
    std::ofstream seq(dir + f);
    seq << "x,y\n";
    for (int t = 0; t < 12; ++t) seq << fmt::format("{},{}\n", std::sin(0.3 * (c + 1) * t + i), c * 0.5 + 0.01 * t);
    manifest << f << "," << labels[c] << "\n";
  }
  manifest.close();
  auto so = small_search(dir, "csv:" + dir + "manifest.csv", "<b>bold</b>");
  so.trials = 3;
  search::run_search(so);
  report::ReportOptions o;
  o.storage = dir + "study.db";
  o.study = "<b>bold</b>";
  const std::string html = dir + "report.html";
  report::write_report(o, html);
  const std::string text = read_file(html);
  EXPECT_EQ(text.find("<script>window.pwned"), std::string::npos);
  EXPECT_EQ(text.find("<img src=x"), std::string::npos);
  EXPECT_EQ(text.find("<b>bold"), std::string::npos);
  EXPECT_NE(text.find("\\u003cscript\\u003ewindow.pwned=1"), std::string::npos);
  const Rendered dom = render_ok(html);
  // Shown as text (serialised back as &lt;...), never as elements.
  EXPECT_EQ(dom.dom.find("<b>bold</b>"), std::string::npos);
  EXPECT_NE(dom.dom.find("&lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(dom.dom.find("<img src=\"x\""), std::string::npos);
  EXPECT_NE(dom.dom.find("&lt;script&gt;window.pwned=1&lt;/script&gt;"), std::string::npos)
      << "the class name is not shown in the confusion matrix";
}

TEST(Report, EmptyAndFailedOnlyStudiesGiveSensiblePages) {
  const std::string dir = test_util::temp_dir() + "edge/";
  fs::create_directories(dir);
  {
    auto store = open_storage(dir + "study.db");
    store->create_study("empty", {{"data", "sine:classes=3"}, {"target", "nrf52840"}});
    const int64_t sid = store->create_study("failed", {{"data", "sine:classes=3"}, {"target", "nrf52840"}});
    for (int i = 0; i < 3; ++i) {
      Trial t;
      t.arch = fmt::format("gru:{}|head=last", 8 + i);
      t.strategy = "random";
      const int64_t n = store->add_trial(sid, t, TrialState::running);
      store->finish(sid, n, TrialState::failed, {}, {{"flash_bytes", 4000.0 + i}}, "training diverged: loss is NaN", 1.0);
    }
  }
  for (const char* study : {"empty", "failed"}) {
    report::ReportOptions o;
    o.storage = dir + "study.db";
    o.study = study;
    const std::string html = dir + study + ".html";
    report::write_report(o, html);
    const Rendered dom = render_ok(html);
    if (std::string(study) == "empty") {
      EXPECT_NE(dom.dom.find("This study has no trials yet."), std::string::npos);
    } else {
      EXPECT_NE(dom.dom.find("3 failed: training diverged: loss is NaN"), std::string::npos);
      EXPECT_NE(dom.dom.find("id=\"trial-2\""), std::string::npos);
    }
    EXPECT_NE(dom.dom.find("No feasible complete trial to detail yet"), std::string::npos);
  }
  // A trial that does not exist is a clear error.
  report::ReportOptions o;
  o.storage = dir + "study.db";
  o.study = "failed";
  o.trial = 7;
  EXPECT_NE(test_util::error_of([&] { report::report_data(o); }).find("has no trial 7"), std::string::npos);
  o.study = "nope";
  EXPECT_NE(test_util::error_of([&] { report::report_data(o); }).find("no study named 'nope' (studies: empty, failed)"),
            std::string::npos);
}

TEST(Report, ThousandsOfTrialsRender) {
  const std::string dir = test_util::temp_dir() + "many/";
  fs::create_directories(dir);
  const int N = 3000;
  {
    auto store = open_storage(dir + "study.db");
    const int64_t sid = store->create_study(
        "many", {{"data", "sine:classes=3"}, {"target", "nrf52840"}, {"strategy", "nsga2"},
                 {"objectives", {"val_error", "flash_bytes"}}, {"constraints", {{"max_flash_bytes", 32768.0}}}});
    Rng rng(5);
    for (int i = 0; i < N; ++i) {
      Trial t;
      t.arch = fmt::format("gru:{}|head=last", i + 1);
      t.strategy = i % 2 ? "nsga2" : "random";
      t.curve = {0.5, 0.3, 0.2};
      const double flash = 2000 + 40000 * rng.uniform();
      const int64_t n = store->add_trial(sid, t, TrialState::running);
      const std::map<std::string, double> costs = {{"flash_bytes", flash}, {"ram_bytes", flash / 10},
                                                   {"latency_ms", flash / 1000}, {"energy_uj", flash / 100}};
      if (flash > 32768)
        store->finish(sid, n, TrialState::pruned, {}, costs, "rejected by the cost model: flash_bytes too big", 0);
      else
        store->finish(sid, n, i % 5 ? TrialState::complete : TrialState::pruned,
                      {{"val_error", 0.05 + 0.5 * rng.uniform() * 2000 / flash}}, costs, "", 0.5);
    }
  }
  report::ReportOptions o;
  o.storage = dir + "study.db";
  o.study = "many";
  const double t0 = now_seconds();
  const std::string html = dir + "report.html";
  report::write_report(o, html);
  std::printf("report of %d trials written in %.2f s (%zu bytes)\n", N, now_seconds() - t0,
              static_cast<size_t>(fs::file_size(html)));
  const Rendered dom = render_ok(html);
  EXPECT_EQ(dom.count("<tr id=\"trial-"), N);
  EXPECT_GE(dom.count("<canvas"), 8);  // thousands of points are drawn on canvas
}

TEST(Report, CommandLineLiveAndFinalReports) {
  const std::string dir = test_util::temp_dir() + "cli/";
  fs::create_directories(dir);
  const std::string bin = RNNAS_BINARY;
  const std::string out = run(fmt::format(
      "{} search --data 'sine:classes=3,T=24' --target nrf52840 --max-flash 32KiB --space tiny --trials 6 "
      "--epochs 2 --jobs 2 --storage {}s.db --study cli --report {}live.html --quiet 2>&1",
      bin, dir, dir));
  EXPECT_NE(out.find("report: " + dir + "live.html"), std::string::npos) << out;
  // The final live report evaluated the best trial.
  EXPECT_NE(read_file(dir + "live.html").find("\"kind\":\"confusion\""), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "live.html.tmp"));
  // rnnas report: the only study of the file by default; --trial picks the detail; --no-eval skips the model.
  const std::string rep = run(fmt::format("{} report {}s.db --trial 1 --no-eval -o {}r.html 2>&1", bin, dir, dir));
  EXPECT_NE(rep.find("wrote " + dir + "r.html"), std::string::npos) << rep;
  const std::string text = read_file(dir + "r.html");
  EXPECT_NE(text.find("\"chosen\":{"), std::string::npos);
  EXPECT_EQ(text.find("\"kind\":\"confusion\""), std::string::npos);
  const Rendered dom = render_ok(dir + "r.html");
  EXPECT_NE(dom.dom.find("<h2 id=\"trial-title\">Trial 1"), std::string::npos);
  // Bad input: a clear message and exit code 2.
  const std::string bad = run(fmt::format("{} report {}s.db --trial 99 -o {}x.html 2>&1; echo \"exit=$?\"", bin, dir, dir));
  EXPECT_NE(bad.find("has no trial 99"), std::string::npos) << bad;
  EXPECT_NE(bad.find("exit=2"), std::string::npos) << bad;
}
