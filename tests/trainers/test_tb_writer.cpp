// TensorBoard event files decoded independently of the writer: its own bitwise CRC32C, TFRecord
// framing and protobuf varint/fixed parsing, checking lengths, CRCs and Event fields.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/io.h"
#include "support/temp_dir.h"
#include "trainers/metrics/crc32c.h"
#include "trainers/metrics/tb_writer.h"

namespace fs = std::filesystem;

namespace {

// Bit-at-a-time CRC-32C (no table), independent of trainers/metrics/crc32c.cpp.
uint32_t ref_crc32c(const std::string& s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}
uint32_t ref_mask(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

template <class T>
T read_le(const std::string& s, std::size_t at) {
  REQUIRE(at + sizeof(T) <= s.size());
  T v;
  std::memcpy(&v, s.data() + at, sizeof(T));
  return v;
}

struct Reader {  // protobuf wire format
  const std::string& s;
  std::size_t pos = 0;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      REQUIRE(pos < s.size());
      const auto b = static_cast<unsigned char>(s[pos++]);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  std::string bytes() {
    const auto n = varint();
    REQUIRE(pos + n <= s.size());
    std::string out = s.substr(pos, n);
    pos += n;
    return out;
  }
  bool done() const { return pos >= s.size(); }
};

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::map<std::string, float> scalars;
};

Event parse_event(const std::string& data) {
  Event e;
  Reader r{data};
  while (!r.done()) {
    const uint64_t key = r.varint();
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 1) {
      e.wall_time = read_le<double>(data, r.pos);
      r.pos += 8;
    } else if (field == 2 && wire == 0) {
      e.step = static_cast<int64_t>(r.varint());
    } else if (field == 3 && wire == 2) {
      e.file_version = r.bytes();
    } else if (field == 5 && wire == 2) {
      const std::string summary = r.bytes();
      Reader sr{summary};
      while (!sr.done()) {
        REQUIRE(sr.varint() == ((1u << 3) | 2));  // Summary.value
        const std::string value = sr.bytes();
        Reader vr{value};
        std::string tag;
        float simple = 0;
        while (!vr.done()) {
          const uint64_t k = vr.varint();
          if (k == ((1u << 3) | 2)) {
            tag = vr.bytes();
          } else {
            REQUIRE(k == ((2u << 3) | 5));  // simple_value, fixed32
            simple = read_le<float>(value, vr.pos);
            vr.pos += 4;
          }
        }
        e.scalars[tag] = simple;
      }
    } else {
      FAIL("unexpected field " << field << " wire type " << wire);
    }
  }
  return e;
}

std::vector<Event> read_event_file(const std::string& path) {
  const std::string s = mm::io::read_file(path);
  std::vector<Event> out;
  std::size_t at = 0;
  while (at < s.size()) {
    const auto len = read_le<uint64_t>(s, at);
    CHECK(read_le<uint32_t>(s, at + 8) == ref_mask(ref_crc32c(s.substr(at, 8))));
    REQUIRE(at + 12 + len + 4 <= s.size());
    const std::string data = s.substr(at + 12, len);
    CHECK(read_le<uint32_t>(s, at + 12 + len) == ref_mask(ref_crc32c(data)));
    out.push_back(parse_event(data));
    at += 12 + len + 4;
  }
  CHECK(at == s.size());
  return out;
}

}  // namespace

TEST_CASE("crc32c check value", "[trainers][metrics]") {
  CHECK(ref_crc32c("123456789") == 0xE3069283u);
  CHECK(mm::train::crc32c("123456789", 9) == 0xE3069283u);
  CHECK(mm::train::crc32c("", 0) == 0u);
}

TEST_CASE("TensorBoard event file decodes record by record", "[trainers][metrics]") {
  const mm::test::TempDir tmp("mm_tb");
  const fs::path dir = tmp.path() / "tb";
  std::string path;
  {
    mm::train::TensorBoardWriter w(dir.string());
    path = w.path();
    w.add_scalars(1, {{"train/loss", 3.25f}, {"train/lr", 1e-4f}});
    w.add_scalar(500, "train/loss", 2.5f);
    w.add_scalar(300000, "eval/acc", 0.125f);
  }
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  const std::string fname = fs::path(path).filename().string();
  CHECK(fname.rfind("events.out.tfevents.", 0) == 0);
  CHECK(fname.size() > std::strlen(host));
  CHECK(fname.substr(fname.size() - std::strlen(host)) == host);

  const auto events = read_event_file(path);
  REQUIRE(events.size() == 4);
  CHECK(events[0].file_version == "brain.Event:2");
  CHECK(events[0].scalars.empty());
  CHECK(events[0].wall_time > 1.6e9);
  CHECK(events[1].step == 1);
  CHECK(events[1].scalars.at("train/loss") == 3.25f);
  CHECK(events[1].scalars.at("train/lr") == 1e-4f);
  CHECK(events[1].wall_time >= events[0].wall_time);
  CHECK(events[2].step == 500);
  CHECK(events[3].step == 300000);  // a multi-byte varint
  CHECK(events[3].scalars.at("eval/acc") == 0.125f);
}
