// Connector contracts: registry, output shapes, square checks, names, freezing.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "core/check.h"
#include "models/connectors/c_abstractor.h"
#include "models/connectors/connector.h"

using mm::connectors::build_connector;

namespace {

mm::ConnectorConfig tiny_connector(const std::string& type, int64_t m) {
  mm::ConnectorConfig c;
  c.type = type;
  c.num_tokens = m;
  c.hidden = 24;
  c.depth = 2;
  return c;
}

}  // namespace

TEST_CASE("connector registry builds every type and rejects unknown names", "[connectors]") {
  CHECK(mm::connectors::connector_names() == std::vector<std::string>{"avg_pool", "c_abstractor", "mlp"});
  CHECK_THROWS_WITH(build_connector(tiny_connector("qformer", 9), 16, 6, 20),
                    Catch::Contains("connector.type = 'qformer' is unknown; valid types: avg_pool, c_abstractor, mlp"));
}

TEST_CASE("connectors map (N, P, D) to (N, M, d_llm)", "[connectors]") {
  auto x = torch::randn({3, 36, 16});
  for (auto [type, m] : std::vector<std::pair<std::string, int64_t>>{
           {"c_abstractor", 9}, {"c_abstractor", 16}, {"avg_pool", 4}, {"mlp", 36}}) {
    INFO(type << " M=" << m);
    auto conn = build_connector(tiny_connector(type, m), 16, 6, 20);
    CHECK(conn->num_tokens() == m);
    CHECK(conn->forward(x).sizes() == torch::IntArrayRef({3, m, 20}));
  }
}

TEST_CASE("pooling connectors accept other square grids (high-resolution tiles)", "[connectors]") {
  auto ca = build_connector(tiny_connector("c_abstractor", 9), 16, 6, 20);  // trained on 6x6 patches
  CHECK(ca->forward(torch::randn({2, 100, 16})).sizes() == torch::IntArrayRef({2, 9, 20}));
  auto ap = build_connector(tiny_connector("avg_pool", 9), 16, 6, 20);
  CHECK(ap->forward(torch::randn({2, 100, 16})).sizes() == torch::IntArrayRef({2, 9, 20}));
}

TEST_CASE("connector shape errors are clear", "[connectors]") {
  CHECK_THROWS_WITH(build_connector(tiny_connector("c_abstractor", 10), 16, 6, 20),
                    Catch::Contains("connector.num_tokens = 10 is not a perfect square"));
  CHECK_THROWS_WITH(build_connector(tiny_connector("avg_pool", 12), 16, 6, 20),
                    Catch::Contains("connector.num_tokens = 12 is not a perfect square"));
  CHECK_THROWS_WITH(build_connector(tiny_connector("mlp", 16), 16, 6, 20),
                    Catch::Contains("connector.num_tokens = 16 must equal the patches per tile (6x6 = 36)"));
  auto ca = build_connector(tiny_connector("c_abstractor", 9), 16, 6, 20);
  CHECK_THROWS_WITH(ca->forward(torch::randn({2, 35, 16})),
                    Catch::Contains("35 patches per tile do not form a square"));
  auto mlp = build_connector(tiny_connector("mlp", 36), 16, 6, 20);
  CHECK_THROWS_WITH(mlp->forward(torch::randn({2, 49, 16})), Catch::Contains("expected (N, 36, D)"));
}

TEST_CASE("C-Abstractor parameter names follow Honeybee/timm", "[connectors]") {
  auto ca = build_connector(tiny_connector("c_abstractor", 9), 16, 6, 20);
  auto params = ca->named_parameters();
  for (const char* n :
       {"pos_emb", "net.0.b1.conv1.conv.weight", "net.0.b1.conv1.bn.weight", "net.0.b1.conv2.conv.weight",
        "net.0.b1.se.fc1.weight", "net.0.b1.se.fc2.bias", "net.0.b1.conv3.bn.bias", "net.0.b1.downsample.conv.weight",
        "net.0.b2.conv1.conv.weight", "net.2.b2.conv3.conv.weight", "readout.0.weight", "readout.2.bias"}) {
    INFO(n);
    CHECK(params.contains(n));
  }
  CHECK_FALSE(params.contains("net.0.b2.downsample.conv.weight"));  // same width: identity shortcut
  CHECK_FALSE(params.contains("net.2.b1.downsample.conv.weight"));
  CHECK(params["net.0.b1.conv2.conv.weight"].sizes() == torch::IntArrayRef({24, 1, 3, 3}));  // depthwise
  CHECK(params["net.0.b1.se.fc1.weight"].size(0) == 4);                                      // round(in 16 * 0.25)
  CHECK(params["net.0.b2.se.fc1.weight"].size(0) == 6);                                      // round(in 24 * 0.25)
}

TEST_CASE("a frozen connector passes gradients through to its input", "[connectors]") {
  auto ca = build_connector(tiny_connector("c_abstractor", 4), 16, 6, 20);
  for (auto& p : ca->parameters()) p.requires_grad_(false);
  auto x = torch::randn({2, 36, 16}, torch::requires_grad());
  ca->forward(x).sum().backward();
  CHECK(x.grad().defined());
  CHECK(x.grad().abs().sum().item<double>() > 0);
  for (auto& p : ca->parameters()) CHECK_FALSE(p.grad().defined());
}
