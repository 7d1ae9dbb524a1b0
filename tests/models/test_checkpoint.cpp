// CheckpointManager: round trip, corruption and truncation detected, LATEST fallback, retention.
#include <sys/resource.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/io.h"
#include "models/checkpoint/checkpoint_manager.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/manifest.h"
#include "support/temp_dir.h"

using namespace mm;
using mm::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::map<std::string, torch::Tensor> model_at(int64_t step) {
  return {{"w", torch::arange(12, torch::kFloat).reshape({3, 4}) * static_cast<float>(step)},
          {"b", torch::full({4}, static_cast<double>(step), torch::kFloat)}};
}

std::string save_step(CheckpointManager& m, int64_t step) {
  return m.save(step, model_at(step), {{"w.step", torch::tensor(step)}}, {{"tokens_seen", step * 100}},
                "model: debug\n");
}

void flip_byte(const fs::path& p, std::size_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x01));
}

}  // namespace

TEST_CASE("checkpoint round trip with the run-directory layout", "[trainers][checkpoint]") {
  TempDir tmp("mm_ckpt_roundtrip");
  CheckpointManager m((tmp.path() / "checkpoints").string());
  const std::string dir = save_step(m, 500);
  CHECK(fs::path(dir).filename() == "step_000500");
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "state.json", "config.yaml", "MANIFEST"})
    CHECK(fs::exists(fs::path(dir) / f));
  CHECK(mm::io::read_file((tmp.path() / "checkpoints" / "LATEST").string()) == "step_000500\n");
  for (const auto& e : fs::directory_iterator(tmp.path() / "checkpoints"))
    CHECK(e.path().filename().string().rfind(".tmp", 0) != 0);  // no leftovers

  const Checkpoint c = CheckpointManager::load(dir);
  CHECK(c.step == 500);
  CHECK(c.state["tokens_seen"] == 50000);
  CHECK(c.config_yaml == "model: debug\n");
  CHECK(torch::equal(c.model.at("w"), model_at(500).at("w")));
  CHECK(torch::equal(c.model.at("b"), model_at(500).at("b")));
  CHECK(c.optimizer.at("w.step").item<int64_t>() == 500);
  CHECK(m.find_latest_good() == dir);
}

TEST_CASE("a corrupted or truncated checkpoint is never loaded", "[trainers][checkpoint]") {
  TempDir tmp("mm_ckpt_corrupt");
  CheckpointManager m((tmp.path() / "checkpoints").string());
  SECTION("one flipped byte in the model") {
    const fs::path dir = save_step(m, 10);
    const fs::path f = dir / "model.safetensors";
    flip_byte(f, fs::file_size(f) - 3);  // inside the tensor data: safetensors itself would accept it
    CHECK_THROWS_WITH(CheckpointManager::load(dir.string()), Catch::Contains("corrupted"));
  }
  SECTION("truncated optimizer file") {
    const fs::path dir = save_step(m, 10);
    const fs::path f = dir / "optimizer.safetensors";
    fs::resize_file(f, fs::file_size(f) - 4);
    CHECK_THROWS_WITH(CheckpointManager::load(dir.string()), Catch::Contains("truncated"));
  }
  SECTION("missing MANIFEST (interrupted save)") {
    const fs::path dir = save_step(m, 10);
    fs::remove(dir / "MANIFEST");
    CHECK_THROWS_WITH(CheckpointManager::load(dir.string()), Catch::Contains("MANIFEST"));
  }
  SECTION("edited state.json") {
    const fs::path dir = save_step(m, 10);
    flip_byte(dir / "state.json", 3);
    CHECK_FALSE(CheckpointManager::verify(dir.string()).empty());
    CHECK_FALSE(CheckpointManager::verify(dir.string(), CheckpointManager::Part::kWeights).empty());
  }
}

TEST_CASE("a weights-only load neither hashes nor reads the optimizer state", "[trainers][checkpoint]") {
  using Part = CheckpointManager::Part;
  TempDir tmp("mm_ckpt_weights");
  CheckpointManager m((tmp.path() / "checkpoints").string());
  const fs::path dir = save_step(m, 10);
  const Checkpoint w = CheckpointManager::load(dir.string(), Part::kWeights);
  CHECK(w.step == 10);
  CHECK(torch::equal(w.model.at("w"), model_at(10).at("w")));
  CHECK(w.optimizer.empty());

  SECTION("a flipped byte in the optimizer state stops a resume, not a weights-only load") {
    const fs::path f = dir / "optimizer.safetensors";
    flip_byte(f, fs::file_size(f) - 3);
    CHECK_THROWS_WITH(CheckpointManager::load(dir.string()), Catch::Contains("corrupted"));
    CHECK(CheckpointManager::load(dir.string(), Part::kWeights).model.size() == 2);
  }
  SECTION("the optimizer file must still be there at its listed size") {
    const fs::path f = dir / "optimizer.safetensors";
    fs::resize_file(f, fs::file_size(f) - 4);
    CHECK_THROWS_WITH(CheckpointManager::load(dir.string(), Part::kWeights), Catch::Contains("truncated"));
  }
  SECTION("the weights are hashed") {
    const fs::path f = dir / "model.safetensors";
    flip_byte(f, fs::file_size(f) - 3);
    CHECK_THROWS_WITH(CheckpointManager::load(dir.string(), Part::kWeights), Catch::Contains("corrupted"));
  }
}

TEST_CASE("find_latest_good falls back past a bad or missing LATEST", "[trainers][checkpoint]") {
  TempDir tmp("mm_ckpt_fallback");
  CheckpointManager m((tmp.path() / "checkpoints").string(), RetentionPolicy{5, 0});
  save_step(m, 100);
  const std::string good = save_step(m, 200);
  const std::string newest = save_step(m, 300);
  const fs::path latest = tmp.path() / "checkpoints" / "LATEST";

  SECTION("LATEST points at a corrupt checkpoint") {
    flip_byte(fs::path(newest) / "model.safetensors", fs::file_size(fs::path(newest) / "model.safetensors") - 1);
    CHECK(m.find_latest_good() == good);
  }
  SECTION("LATEST missing: the newest good folder") {
    fs::remove(latest);
    CHECK(m.find_latest_good() == newest);
  }
  SECTION("LATEST dangling, newest folder partial") {
    mm::io::write_file_atomic(latest.string(), "step_000900\n");
    fs::remove(fs::path(newest) / "MANIFEST");
    CHECK(m.find_latest_good() == good);
  }
  SECTION("nothing good at all") {
    for (const auto& [step, dir] : m.list()) fs::remove(fs::path(dir) / "state.json");
    CHECK_FALSE(m.find_latest_good().has_value());
  }
}

TEST_CASE("retention keeps the last K plus every Nth", "[trainers][checkpoint]") {
  TempDir tmp("mm_ckpt_retention");
  CheckpointManager m((tmp.path() / "checkpoints").string(), RetentionPolicy{2, 300});
  for (int64_t s = 100; s <= 1000; s += 100) save_step(m, s);
  std::vector<int64_t> steps;
  for (const auto& [step, dir] : m.list()) steps.push_back(step);
  CHECK(steps == std::vector<int64_t>{300, 600, 900, 1000});
  // Re-saving an existing step replaces it cleanly.
  save_step(m, 1000);
  CHECK(m.list().size() == 4);
  CHECK(m.find_latest_good().value() == (tmp.path() / "checkpoints" / "step_001000").string());
}

namespace {
// Stand-ins for SentencePiece .model files: the checkpoint code copies and compares bytes only.
std::string tokenizer_bytes(char seed) {
  std::string b;
  for (int i = 0; i < 3000; ++i) b += static_cast<char>((i * 31 + seed) & 0xff);  // includes NUL bytes
  return b;
}
}  // namespace

TEST_CASE("a checkpoint carries the tokenizer model it was trained with", "[trainers][checkpoint][tokenizer]") {
  TempDir tmp("mm_ckpt_tokenizer");
  const fs::path src = tmp.path() / "spm.model";
  fs::create_directories(tmp.path());
  mm::io::write_file_atomic(src.string(), tokenizer_bytes(1));
  CheckpointManager m((tmp.path() / "checkpoints").string());
  const fs::path dir = m.save(5, model_at(5), {}, {}, "model: debug\n", mm::io::read_file(src.string()));
  REQUIRE(fs::exists(dir / "tokenizer.model"));
  CHECK(mm::io::read_file((dir / "tokenizer.model").string()) == mm::io::read_file(src.string()));
  // Listed in the MANIFEST with its size, so it is verified like every other file.
  const auto entries = parse_manifest(mm::io::read_file((dir / "MANIFEST").string()), "MANIFEST");
  bool listed = false;
  for (const auto& e : entries)
    if (e.file == "tokenizer.model") listed = e.size == fs::file_size(src);
  CHECK(listed);
  CHECK(CheckpointManager::verify(dir.string()).empty());
  CHECK(CheckpointManager::load(dir.string()).step == 5);

  SECTION("a corrupted carried tokenizer fails verification, naming it") {
    flip_byte(dir / "tokenizer.model", 100);
    CHECK_THAT(CheckpointManager::verify(dir.string()),
               Catch::Contains("tokenizer.model") && Catch::Contains("corrupted"));
  }
  SECTION("without tokenizer bytes nothing is carried (and the folder still verifies)") {
    const fs::path d2 = save_step(m, 6);
    CHECK_FALSE(fs::exists(d2 / "tokenizer.model"));
    CHECK(CheckpointManager::verify(d2.string()).empty());
  }
}

TEST_CASE("check_carried_tokenizer: equal bytes pass, a changed vocabulary is one line naming both files",
          "[trainers][checkpoint][tokenizer]") {
  TempDir tmp("mm_ckpt_tokcheck");
  fs::create_directories(tmp.path());
  const fs::path same = tmp.path() / "same.model", other = tmp.path() / "other.model";
  mm::io::write_file_atomic(same.string(), tokenizer_bytes(1));
  mm::io::write_file_atomic(other.string(), tokenizer_bytes(2));
  CheckpointManager m((tmp.path() / "checkpoints").string());
  const std::string dir = m.save(5, model_at(5), {}, {}, "model: debug\n", tokenizer_bytes(1));

  CHECK(check_carried_tokenizer(dir, same.string(), "train.init_from"));
  try {
    check_carried_tokenizer(dir, other.string(), "train.init_from");
    FAIL("a different tokenizer file was accepted");
  } catch (const mm::Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("train.init_from " + dir) &&
                        Catch::Contains("differs from tokenizer.model_path " + other.string()) &&
                        Catch::Contains("point tokenizer.model_path at " + dir + "/tokenizer.model"));
    CHECK(msg.find('\n') == std::string::npos);
  }
  // Same size, one byte changed: still caught.
  std::string edited = tokenizer_bytes(1);
  edited[1500] ^= 0x10;
  mm::io::write_file_atomic(other.string(), edited);
  CHECK_THROWS_WITH(check_carried_tokenizer(dir, other.string(), "--resume"), Catch::Contains("--resume " + dir));
  // The config's file is missing: one line pointing at the carried copy.
  CHECK_THROWS_WITH(check_carried_tokenizer(dir, (tmp.path() / "gone.model").string(), "--resume"),
                    Catch::Contains("gone.model") && Catch::Contains(dir + "/tokenizer.model"));
  // A checkpoint written before checkpoints carried their tokenizer: accepted, unchecked.
  const std::string old = save_step(m, 6);
  CHECK_FALSE(check_carried_tokenizer(old, other.string(), "train.init_from"));
}

namespace {

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("a full disk fails before the save in one line and removes nothing", "[trainers][checkpoint]") {
  TempDir tmp("mm_ckpt_full");
  CheckpointManager m((tmp.path() / "checkpoints").string(), RetentionPolicy{1, 0});
  save_step(m, 1);
  const auto before = names_in(tmp.path() / "checkpoints");
  const uint64_t need = CheckpointManager::estimate_bytes(model_at(2), {{"w.step", torch::tensor(2)}}, 100);
  CHECK(need > uint64_t{1} << 20);
  m.set_free_bytes_probe([need] { return need / 2; });
  std::string msg;
  try {
    save_step(m, 2);
  } catch (const mm::Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("checkpoint step_000002: not enough free space in " + (tmp.path() / "checkpoints").string()) == 0);
  CHECK(msg.find("no checkpoint was written or removed") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(names_in(tmp.path() / "checkpoints") == before);  // step_000001 kept (keep_last 1 would have pruned it)
  m.set_free_bytes_probe([need] { return need; });
  save_step(m, 2);
  CHECK(names_in(tmp.path() / "checkpoints") == std::vector<std::string>{"LATEST", "step_000002"});
  CHECK(m.free_bytes() > 0);
}

TEST_CASE("a save that fails midway leaves no temporary folder, stray leftovers are cleaned",
          "[trainers][checkpoint]") {
  TempDir tmp("mm_ckpt_fail");
  const fs::path dir = tmp.path() / "checkpoints";
  CheckpointManager m(dir.string());
  save_step(m, 1);
  // Leftovers of killed saves: another pid's temporary folder and LATEST's temporary file.
  fs::create_directories(dir / ".tmp.step_000005.99999");
  { std::ofstream(dir / ".tmp.step_000005.99999" / "model.safetensors") << "partial"; }
  { std::ofstream(dir / "LATEST.tmp.AbC123") << "step_0"; }

  // RLIMIT_FSIZE makes a write fail past 64 KiB: a stand-in for a disk that fills during the save.
  std::map<std::string, torch::Tensor> big = {{"w", torch::zeros({64, 1024}, torch::kFloat)}};
  rlimit old_limit{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 64 << 10;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  for (int attempt = 0; attempt < 2; ++attempt) {  // retries leave nothing either
    CHECK_THROWS_AS(m.save(2, big, {}, {}, "model: debug\n"), mm::Error);
  }
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  std::signal(SIGXFSZ, old_handler);
  CHECK(names_in(dir) == std::vector<std::string>{"LATEST", "step_000001"});
  CHECK(m.find_latest_good() == (dir / "step_000001").string());
}

TEST_CASE("a checkpoints folder that cannot be created is one line", "[trainers][checkpoint]") {
  TempDir tmp("mm_ckpt_ro");
  fs::create_directories(tmp.path());
  { std::ofstream(tmp.path() / "file") << "x"; }
  const std::string below = (tmp.path() / "file" / "checkpoints").string();  // root cannot write through a file
  std::string msg;
  try {
    CheckpointManager m(below);
  } catch (const mm::Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("checkpoints folder '" + below + "': cannot create it: ") == 0);
}
