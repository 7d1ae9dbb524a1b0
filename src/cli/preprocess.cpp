// mmtrain preprocess: runs the image split on one file and explains it (grid, scale, canvas,
// tiles, overview, image tokens, indicator layout, candidate grids); --dump writes the tiles.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/config/config.h"
#include "core/config/image_config.h"
#include "core/config/tokenizer_config.h"
#include "core/io.h"
#include "data_pipeline/image/image_bytes.h"
#include "data_pipeline/image/image_error.h"
#include "data_pipeline/image/image_probe.h"
#include "data_pipeline/image/split_plan.h"
#include "tokenizer/image_layout.h"
#include "trainers/loop/recipe.h"
#ifdef MM_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data_pipeline/image/image_decode.h"
#include "data_pipeline/image/tiles.h"
#endif

namespace mm::cli {
namespace {

struct PreprocessArgs {
  std::string image;
  std::string config;  // a run config or recipe: image settings and tokens per tile from it
  std::string stage;   // the recipe's stage (default: the first)
  std::vector<std::string> sets;
  std::vector<std::string> given;  // the image options given on the command line (they win over --config)
  ImageConfig cfg;
  int64_t tokens_per_tile = 144;
  int64_t images_in_sample = 1;
  bool json = false;
  std::string dump;
};

std::vector<std::string> dump_tiles(const std::string& dir, const std::vector<std::string>& names,
                                    const std::string& file, const data::SplitPlan& plan, const ImageConfig& cfg,
                                    const std::string& bytes) {
#ifdef MM_WITH_OPENCV
  const cv::Mat rgb = data::decode_image(bytes, cfg);
  const auto tiles = data::render_tiles(rgb, plan, cfg);
  std::filesystem::create_directories(dir);
  std::vector<std::string> written;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const std::string path = (std::filesystem::path(dir) / (names[t] + ".png")).string();
    cv::Mat bgr;
    cv::cvtColor(tiles[t], bgr, cv::COLOR_RGB2BGR);
    MM_CHECK(cv::imwrite(path, bgr), "--dump: cannot write {}", path);
    written.push_back(path);
  }
  return written;
#else
  (void)names, (void)plan, (void)cfg, (void)bytes;
  MM_FAIL("{}: --dump {} needs image decoding, which this build lacks (MM_WITH_OPENCV=OFF)", file, dir);
#endif
}

// `preprocess --json`: one object, keys sorted (docs/images.md). The keys are this visit() list.
struct PreprocessJson {
  struct Candidate {
    std::vector<int64_t> grid;  // rows, cols
    double scale = 0;
    double padding = 0;
    int64_t fit_case = 0;
    template <class V>
    void visit(V& v) {
      v("grid", grid, "rows, cols");
      v("scale", scale, "s of this grid");
      v("padding", padding, "canvas pixels not covered by the image");
      v("case", fit_case, "1: fits without downscaling, 2: downscaled");
    }
  };
  std::string image, format;
  std::vector<int64_t> size;  // h, w
  std::string mode;
  int64_t tile = 0, nmin = 0, nmax = 0;
  std::vector<int64_t> grid;  // rows, cols
  int64_t tiles = 0;
  bool overview = false;
  int64_t images = 0;
  double scale = 0;
  int64_t fit_case = 0;
  std::vector<int64_t> scaled, canvas;  // h, w
  int64_t padding = 0, tokens_per_tile = 0, tokens = 0;
  std::string indicators, layout;
  std::vector<std::vector<int64_t>> positions;  // (k, i, j) per image
  std::vector<Candidate> candidates;
  std::vector<std::string> dump;  // the tile files --dump wrote
  bool with_dump = false;         // --dump given: the only condition on a key

  template <class V>
  void visit(V& v) {
    v("image", image, "the file");
    v("format", format, "png | jpeg | bmp | webp");
    v("size", size, "h, w");
    v("mode", mode, "single | static | dynamic");
    v("tile", tile, "tile side r");
    v("nmin", nmin, "fewest tiles of a candidate grid");
    v("nmax", nmax, "most tiles of a candidate grid");
    v("grid", grid, "rows, cols (0, 0 without a grid)");
    v("tiles", tiles, "sub-images, overview excluded");
    v("overview", overview, "an overview image follows the tiles");
    v("images", images, "tiles + overview");
    v("scale", scale, "s (0 without a grid)");
    v("fit_case", fit_case, "dynamic: 1 or 2; 0: fixed grid or none");
    v("scaled", scaled, "resized image h, w");
    v("canvas", canvas, "canvas h, w");
    v("padding", padding, "canvas pixels not covered by the image");
    v("tokens_per_tile", tokens_per_tile, "connector tokens per tile");
    v("tokens", tokens, "image tokens of the image");
    v("indicators", indicators, "none | index | seps");
    v("layout", layout, "the token run, one <tile> per image");
    v("positions", positions, "(k, i, j) of each image");
    v("candidates", candidates, "dynamic: every candidate grid");
    if (with_dump) v("dump", dump, "the tile files written");
  }
};

// With --config: the stage's image: section and its connector's tokens per tile, except the
// options given on the command line.
PreprocessArgs with_config(PreprocessArgs a) {
  if (a.config.empty()) return a;
  const train::Recipe recipe = train::load_recipe(a.config, a.sets);
  const RunConfig& stage = recipe.stages[a.stage.empty() ? 0 : recipe.index_of(a.stage)];
  const PreprocessArgs cli = a;
  a.cfg = stage.image;
  a.tokens_per_tile = stage.model.connector.num_tokens;
  // An option given on the command line keeps its value.
  auto keep = [&](const char* option, auto& field, const auto& cli_value) {
    if (std::find(cli.given.begin(), cli.given.end(), option) != cli.given.end()) field = cli_value;
  };
  keep("--tokens-per-tile", a.tokens_per_tile, cli.tokens_per_tile);
  keep("--mode", a.cfg.mode, cli.cfg.mode);
  keep("--nmin", a.cfg.nmin, cli.cfg.nmin);
  keep("--nmax", a.cfg.nmax, cli.cfg.nmax);
  keep("--tile", a.cfg.tile_size, cli.cfg.tile_size);
  keep("--indicators", a.cfg.indicators, cli.cfg.indicators);
  keep("--max-pixels", a.cfg.max_pixels, cli.cfg.max_pixels);
  keep("--no-overview", a.cfg.overview, cli.cfg.overview);
  return a;
}

void run_preprocess(const PreprocessArgs& args) {
  const PreprocessArgs a = with_config(args);
  const ImageConfig& cfg = a.cfg;
  data::validate_image_config(cfg);
  const tok::Indicators ind = tok::parse_indicators(cfg.indicators);
  MM_CHECK(a.tokens_per_tile > 0, "--tokens-per-tile: expected a positive count, got {}", a.tokens_per_tile);
  // Missing, a folder, a FIFO (would block), a device: one line, exit 1 (not CLI11's exit 105).
  io::check_regular_file(a.image, io::kMaxImageBytes, "--image");
  data::ImageRef ref;
  ref.path = a.image;
  std::string bytes;
  data::ImageSize size;
  try {
    bytes = data::read_image_bytes(ref);
    size = data::probe_image_size(bytes);
    if (size.pixels() > cfg.max_pixels) {
      throw data::ImageError(fmt::format("image too large: {}x{} = {} pixels > --max-pixels {}", size.width,
                                         size.height, size.pixels(), cfg.max_pixels));
    }
#ifdef MM_WITH_OPENCV
    const cv::Mat rgb = data::decode_image(bytes, cfg);  // proves it decodes; dims as displayed
    if (rgb.rows != size.height || rgb.cols != size.width) {
      throw data::ImageError(fmt::format("decoded size {}x{} differs from the header's {}x{}", rgb.cols, rgb.rows,
                                         size.width, size.height));
    }
#endif
  } catch (const data::ImageError& e) {
    throw mm::Error(fmt::format("{}: {}", a.image, e.what()));
  }
  const data::SplitPlan plan = data::plan_split(size.height, size.width, cfg, a.images_in_sample);
  // The token run training uses: the tokenizer's layout with the default indicator symbols.
  const tok::ImageLayout layout =
      tok::make_image_layout(TokenizerConfig{}, ind, 0, plan.rows, plan.cols, plan.overview);
  const auto cands = data::parse_split_mode(cfg.mode) == data::SplitMode::Dynamic && plan.num_tiles() > 0
                         ? data::candidate_grids(size.height, size.width, cfg.tile_size, cfg.nmin, cfg.nmax)
                         : std::vector<data::GridCandidate>{};

  // (k, i, j) of each image in the tile stack: tiles row-major from (0, 1, 1), the overview (0, 0, 0) last.
  std::vector<std::array<int64_t, 3>> positions;
  for (int64_t i = 1; i <= plan.rows; ++i) {
    for (int64_t j = 1; j <= plan.cols; ++j) positions.push_back({0, i, j});
  }
  if (plan.overview) positions.push_back({0, 0, 0});
  std::vector<std::string> names;
  for (const auto& p : positions) {
    names.push_back(p[1] == 0 ? std::string("overview") : fmt::format("tile_r{}_c{}", p[1], p[2]));
  }
  std::vector<std::string> dumped;
  if (!a.dump.empty()) dumped = dump_tiles(a.dump, names, a.image, plan, cfg, bytes);

  if (a.json) {
    PreprocessJson j;
    j.image = a.image;
    j.format = data::image_format_name(size.format);
    j.size = {size.height, size.width};
    j.mode = cfg.mode;
    j.tile = cfg.tile_size;
    j.nmin = cfg.nmin;
    j.nmax = cfg.nmax;
    j.grid = {plan.rows, plan.cols};
    j.tiles = plan.num_tiles();
    j.overview = plan.overview;
    j.images = plan.num_images();
    j.scale = plan.scale;
    j.fit_case = plan.fit_case;
    j.scaled = {plan.scaled_h, plan.scaled_w};
    j.canvas = {plan.canvas_h, plan.canvas_w};
    j.padding = plan.padding();
    j.tokens_per_tile = a.tokens_per_tile;
    j.tokens = plan.tokens(a.tokens_per_tile);
    j.indicators = cfg.indicators;
    j.layout = layout.render("<tile>");
    for (const auto& p : positions) j.positions.push_back({p[0], p[1], p[2]});
    for (const auto& c : cands) j.candidates.push_back({{c.rows, c.cols}, c.scale, c.padding, c.fit_case});
    j.dump = dumped;
    j.with_dump = !a.dump.empty();
    // Keys sorted, as nlohmann::json writes them.
    std::cout << nlohmann::json::parse(cfg::to_ordered_json(j).dump()).dump() << "\n";
    return;
  }

  std::cout << fmt::format(
      "image     {} ({}, {} x {} px, width x height{})\n", a.image, data::image_format_name(size.format), size.width,
      size.height, size.exif_orientation != 1 ? fmt::format(", EXIF orientation {}", size.exif_orientation) : "");
  std::cout << fmt::format("mode      {} (tile {}, nmin {}, nmax {}, {} image(s) in the sample)\n", cfg.mode,
                           cfg.tile_size, cfg.nmin, cfg.nmax, a.images_in_sample);
  if (plan.num_tiles() > 0) {
    const char* why = plan.fit_case == 1   ? ", case 1: fits without downscaling, least padding"
                      : plan.fit_case == 2 ? ", case 2: downscaled, largest scale"
                                           : " (fixed)";
    std::cout << fmt::format("grid      {} x {} tiles (columns x rows){}\n", plan.cols, plan.rows, why);
    std::cout << fmt::format("scale     {:.4f} -> image {} x {} at the top-left of canvas {} x {} (width x height)\n",
                             plan.scale, plan.scaled_w, plan.scaled_h, plan.canvas_w, plan.canvas_h);
    std::cout << fmt::format("padding   {} px ({:.1f}% of the canvas, right/bottom)\n", plan.padding(),
                             100.0 * double(plan.padding()) / double(plan.canvas_h * plan.canvas_w));
  } else {
    std::cout << "grid      none (one image: the whole image resized to the tile)\n";
  }
  std::cout << fmt::format("tiles     {} + {} = {} images x {} tokens = {} image tokens\n", plan.num_tiles(),
                           plan.overview ? "overview" : "no overview", plan.num_images(), a.tokens_per_tile,
                           plan.tokens(a.tokens_per_tile));
  std::cout << fmt::format("layout    {} ({} indicators; one <tile> = {} tokens)\n", layout.render("<tile>"),
                           cfg.indicators, a.tokens_per_tile);
  if (!cands.empty()) {
    std::cout << "candidates (columns x rows, scale, padding in tiles, case):\n";
    for (const auto& c : cands) {
      const bool chosen = c.rows == plan.rows && c.cols == plan.cols;
      std::cout << fmt::format("  {} {} x {}  s={:.4f}  padding={:.3f}  case {}\n", chosen ? "*" : " ", c.cols, c.rows,
                               c.scale, c.padding / double(cfg.tile_size * cfg.tile_size), c.fit_case);
    }
  }
  for (const auto& d : dumped) std::cout << "wrote     " << d << "\n";
}

}  // namespace

void add_preprocess(CLI::App& app) {
  auto a = std::make_shared<PreprocessArgs>();
  auto* cmd = app.add_subcommand("preprocess", "Run the image split on one image and explain it");
  cmd->add_option("--image", a->image, "image file (PNG, JPEG, BMP, WebP)")->required();
  cmd->add_option("--config", a->config,
                  "run config or recipe: its image settings and the connector's tokens per tile (options given "
                  "here still win)");
  cmd->add_option("--stage", a->stage, "the recipe's stage for --config (default: the first)");
  cmd->add_option("--set", a->sets, "override a --config key: key.path=value");
  cmd->add_option("--mode", a->cfg.mode, "single | static | dynamic")->capture_default_str();
  cmd->add_option("--nmin", a->cfg.nmin, "fewest tiles of a candidate grid")->capture_default_str();
  cmd->add_option("--nmax", a->cfg.nmax, "most tiles of a candidate grid")->capture_default_str();
  cmd->add_option("--tile", a->cfg.tile_size, "tile side r in pixels")->capture_default_str();
  cmd->add_option("--indicators", a->cfg.indicators, "none | index | seps")->capture_default_str();
  cmd->add_option("--tokens-per-tile", a->tokens_per_tile, "image tokens per tile (connector num_tokens)")
      ->capture_default_str();
  cmd->add_option("--images-in-sample", a->images_in_sample, "images in the sample (splitting needs fewer than 3)")
      ->capture_default_str();
  cmd->add_option("--max-pixels", a->cfg.max_pixels, "largest accepted image")->capture_default_str();
  cmd->add_flag(
      "--no-overview", [a](int64_t) { a->cfg.overview = false; }, "no overview after the tiles");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->add_option("--dump", a->dump, "write the tiles (and overview) as PNG files into this folder");
  cmd->callback([a, cmd]() {
    for (const char* o :
         {"--mode", "--nmin", "--nmax", "--tile", "--indicators", "--tokens-per-tile", "--max-pixels", "--no-overview"})
      if (cmd->count(o) > 0) a->given.push_back(o);
    run_preprocess(*a);
  });
}

}  // namespace mm::cli
