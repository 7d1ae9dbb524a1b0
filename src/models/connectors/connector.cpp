// The connector registry and helpers shared by the connectors.
#include "models/connectors/connector.h"

#include <cmath>
#include <map>

#include "core/check.h"
#include "models/connectors/avg_pool.h"
#include "models/connectors/c_abstractor.h"
#include "models/connectors/mlp_connector.h"

namespace mm::connectors {
namespace {

// An explicit upcast: ModuleHolder's variadic constructor would otherwise try to build the base.
Connector as_connector(std::shared_ptr<ConnectorImpl> impl) { return Connector(std::move(impl)); }

const std::map<std::string, ConnectorBuilder>& registry() {
  static const std::map<std::string, ConnectorBuilder> table = {
      {"c_abstractor", [](const ConnectorConfig& c, int64_t d, int64_t g,
                          int64_t l) { return as_connector(CAbstractor(c, d, g, l).ptr()); }},
      {"avg_pool", [](const ConnectorConfig& c, int64_t d, int64_t g,
                      int64_t l) { return as_connector(AvgPoolConnector(c, d, g, l).ptr()); }},
      {"mlp", [](const ConnectorConfig& c, int64_t d, int64_t g,
                 int64_t l) { return as_connector(MlpConnector(c, d, g, l).ptr()); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> connector_names() {
  std::vector<std::string> names;
  for (const auto& kv : registry()) names.push_back(kv.first);
  return names;
}

Connector build_connector(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid, int64_t llm_dim) {
  const auto& table = registry();
  const auto it = table.find(cfg.type);
  if (it == table.end()) {
    std::string valid;
    for (const auto& kv : table) valid += (valid.empty() ? "" : ", ") + kv.first;
    MM_FAIL("connector.type = '{}' is unknown; valid types: {}", cfg.type, valid);
  }
  MM_CHECK(vision_width > 0 && vision_grid > 0 && llm_dim > 0,
           "connector: vision width {}, grid {} and LLM width {} must be positive", vision_width, vision_grid, llm_dim);
  return it->second(cfg, vision_width, vision_grid, llm_dim);
}

int64_t square_side(int64_t n) {
  if (n < 1) return -1;
  auto s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  return s * s == n ? s : -1;
}

torch::nn::Sequential make_readout(int64_t in, int64_t out, const std::string& act) {
  torch::nn::Sequential seq;
  seq->push_back(torch::nn::Linear(in, out));
  if (act == "silu") {
    seq->push_back(torch::nn::SiLU());
  } else {
    MM_CHECK(act == "gelu", "connector readout activation '{}': expected silu | gelu", act);
    seq->push_back(torch::nn::GELU());
  }
  seq->push_back(torch::nn::Linear(out, out));
  return seq;
}

}  // namespace mm::connectors
