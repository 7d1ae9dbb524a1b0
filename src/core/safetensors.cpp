#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "core/check.h"
#include "core/io.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; a big-endian host would need byte swapping");

namespace mm::safetensors {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;  // 100 MiB, as huggingface/safetensors
constexpr int kMaxJsonDepth = 4;  // root object > tensor entry > shape array; anything deeper is wrong
constexpr const char* kMetadataKey = "__metadata__";

// For error messages: a name with control characters escaped, so the message stays one line.
std::string printable(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// For error messages: a JSON value as ASCII, cut short (a hostile shape may hold millions).
std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', /*ensure_ascii=*/true);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

struct DtypeEntry {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

std::string supported_dtypes() {
  std::string out;
  for (const auto& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

const DtypeEntry* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Validates the 8-byte length prefix against the file size; returns the header length.
uint64_t check_header_length(const std::string& path, const uint8_t* first8, uint64_t file_size) {
  const uint64_t n = read_u64_le(first8);
  MM_CHECK(n <= kMaxHeaderBytes, "{}: safetensors header length {} is above the 100 MiB limit", path, n);
  MM_CHECK(n <= file_size - 8, "{}: safetensors header length {} runs past the end of the file ({} bytes)", path, n,
           file_size);
  MM_CHECK(n >= 2, "{}: safetensors header length {} is too short for a JSON object", path, n);
  return n;
}

// Before any JSON values are built: rejects a BOM, NUL bytes (nlohmann's parser would take one for
// the end of input and ignore what follows) and nesting deeper than the format has (a hostile
// "[[[[..." header would otherwise make the parser allocate per level).
void scan_header_text(const std::string& path, const char* text, size_t n) {
  // nlohmann skips a UTF-8 byte order mark; the format (and serde_json) does not allow one.
  MM_CHECK(n < 3 || std::memcmp(text, "\xEF\xBB\xBF", 3) != 0,
           "{}: safetensors header starts with a UTF-8 byte order mark", path);
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    MM_CHECK(c != '\0', "{}: safetensors header holds a NUL byte at offset {} (padding must be spaces)", path, i);
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      MM_CHECK(++depth <= kMaxJsonDepth, "{}: safetensors header JSON nests deeper than {} levels (byte {})", path,
               kMaxJsonDepth, i);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

// Parses JSON and reports the first key repeated within one object (nlohmann keeps only one).
json parse_json_no_duplicates(const std::string& path, const char* text, size_t n) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text, text + n, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    MM_FAIL("{}: safetensors header is not valid JSON: {}", path, e.what());
  }
  MM_CHECK(duplicate.empty(), "{}: safetensors header has the key '{}' twice", path, printable(duplicate));
  return j;
}

uint64_t get_unsigned(const std::string& path, const std::string& name, const char* field, const json& v) {
  MM_CHECK(v.is_number_unsigned(), "{}: tensor '{}': {} must hold non-negative integers, got {}", path, name, field,
           brief(v));
  return v.get<uint64_t>();
}

TensorInfo parse_entry(const std::string& path, const std::string& name, const json& v, uint64_t data_bytes) {
  MM_CHECK(v.is_object(), "{}: tensor '{}': expected an object with dtype, shape, data_offsets, got {}", path, name,
           v.type_name());
  for (const auto& item : v.items()) {
    const auto& k = item.key();
    MM_CHECK(k == "dtype" || k == "shape" || k == "data_offsets",
             "{}: tensor '{}': unknown field '{}' (expected dtype, shape, data_offsets)", path, name, k);
  }
  for (const char* field : {"dtype", "shape", "data_offsets"})
    MM_CHECK(v.contains(field), "{}: tensor '{}': missing field '{}'", path, name, field);

  TensorInfo info;
  const json& dtype = v.at("dtype");
  MM_CHECK(dtype.is_string(), "{}: tensor '{}': dtype must be a string, got {}", path, name, brief(dtype));
  info.dtype = dtype.get<std::string>();
  const DtypeEntry* entry = find_dtype(info.dtype);
  MM_CHECK(entry != nullptr, "{}: tensor '{}': unknown or unsupported dtype '{}' (supported: {})", path, name,
           info.dtype, supported_dtypes());

  const json& shape = v.at("shape");
  MM_CHECK(shape.is_array(), "{}: tensor '{}': shape must be an array, got {}", path, name, brief(shape));
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : shape) {
    MM_CHECK(!d.is_number_integer() || d.is_number_unsigned(), "{}: tensor '{}': negative dimension {} in shape {}",
             path, name, brief(d), brief(shape));
    const uint64_t dim = get_unsigned(path, name, "shape", d);
    MM_CHECK(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
             "{}: tensor '{}': dimension {} is too large", path, name, dim);
    info.shape.push_back(static_cast<int64_t>(dim));
    overflow = overflow || __builtin_mul_overflow(numel, dim, &numel);
  }
  const bool empty = std::find(info.shape.begin(), info.shape.end(), 0) != info.shape.end();
  if (empty) numel = 0, overflow = false;
  const uint64_t item = torch::elementSize(entry->type);
  uint64_t nbytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, item, &nbytes);
  MM_CHECK(!overflow, "{}: tensor '{}': shape {} overflows 64-bit element counts", path, name, brief(shape));

  const json& offsets = v.at("data_offsets");
  MM_CHECK(offsets.is_array() && offsets.size() == 2, "{}: tensor '{}': data_offsets must be [begin, end], got {}",
           path, name, brief(offsets));
  info.begin = get_unsigned(path, name, "data_offsets", offsets[0]);
  info.end = get_unsigned(path, name, "data_offsets", offsets[1]);
  MM_CHECK(info.begin <= info.end, "{}: tensor '{}': data_offsets [{}, {}] end before they begin", path, name,
           info.begin, info.end);
  MM_CHECK(info.end <= data_bytes,
           "{}: tensor '{}': data_offsets [{}, {}] are out of range (the data section has {} bytes)", path, name,
           info.begin, info.end, data_bytes);
  MM_CHECK(info.end - info.begin == nbytes,
           "{}: tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", path, name, brief(shape),
           info.dtype, nbytes, info.begin, info.end, info.end - info.begin);
  return info;
}

// The tensors' byte ranges must tile the data section exactly: no gaps, overlaps or trailing bytes.
void check_tiling(const std::string& path, const std::map<std::string, TensorInfo>& tensors, uint64_t data_bytes) {
  std::vector<std::pair<const std::string*, const TensorInfo*>> order;
  for (const auto& [name, info] : tensors) order.emplace_back(&name, &info);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second->begin, a.second->end) < std::make_pair(b.second->begin, b.second->end);
  });
  uint64_t cursor = 0;
  const std::string* previous = nullptr;
  for (const auto& [name, info] : order) {
    MM_CHECK(info->begin >= cursor, "{}: tensor '{}': data_offsets [{}, {}] overlap tensor '{}' which ends at {}", path,
             printable(*name), info->begin, info->end, previous ? printable(*previous) : "", cursor);
    MM_CHECK(info->begin == cursor,
             "{}: tensor '{}': data_offsets [{}, {}] leave a gap of {} unused bytes after offset {}", path,
             printable(*name), info->begin, info->end, info->begin - cursor, cursor);
    cursor = info->end;
    previous = name;
  }
  MM_CHECK(cursor == data_bytes, "{}: the tensors cover {} bytes but the data section has {} ({} trailing bytes)", path,
           cursor, data_bytes, data_bytes - cursor);
}

Header parse_header(const std::string& path, const char* text, uint64_t n, uint64_t file_size) {
  scan_header_text(path, text, n);
  const json j = parse_json_no_duplicates(path, text, n);
  MM_CHECK(j.is_object(), "{}: safetensors header must be a JSON object, got {}", path, j.type_name());
  Header header;
  header.data_start = 8 + n;
  const uint64_t data_bytes = file_size - header.data_start;
  for (const auto& item : j.items()) {
    const std::string& name = item.key();
    const json& v = item.value();
    if (name == kMetadataKey) {
      MM_CHECK(v.is_object(), "{}: __metadata__ must be an object of strings, got {}", path, v.type_name());
      for (const auto& m : v.items()) {
        MM_CHECK(m.value().is_string(), "{}: __metadata__ value of '{}' must be a string, got {}", path,
                 printable(m.key()), brief(m.value()));
        header.metadata.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    header.tensors.emplace(name, parse_entry(path, printable(name), v, data_bytes));
  }
  check_tiling(path, header.tensors, data_bytes);
  return header;
}

// A tensor over the mapping (kept alive by the deleter), or a copy when the bytes are unaligned.
torch::Tensor make_tensor(const std::string& path, const std::string& name, const TensorInfo& info,
                          const std::shared_ptr<io::MappedFile>& mapping, uint64_t data_start) {
  const torch::ScalarType type = scalar_type(info.dtype);
  const auto options = torch::TensorOptions().dtype(type);
  if (info.begin == info.end) return torch::empty(info.shape, options);
  uint8_t* bytes = mapping->mutable_data() + data_start + info.begin;
  const uint64_t nbytes = info.end - info.begin;
  if (type == torch::kBool) {
    // Any byte other than 0/1 would be an invalid C++ bool once torch reads it.
    const auto* bad = std::find_if(bytes, bytes + nbytes, [](uint8_t b) { return b > 1; });
    MM_CHECK(bad == bytes + nbytes, "{}: tensor '{}': BOOL element {} holds byte {}, expected 0 or 1", path, name,
             bad - bytes, static_cast<int>(*bad));
  }
  if (reinterpret_cast<uintptr_t>(bytes) % torch::elementSize(type) != 0) {
    torch::Tensor copy = torch::empty(info.shape, options);
    std::memcpy(copy.data_ptr(), bytes, nbytes);
    return copy;
  }
  return torch::from_blob(
      bytes, info.shape, [mapping](void*) {}, options);
}

File load_impl(const std::string& path, const std::vector<std::string>* names) {
  auto mapping = std::make_shared<io::MappedFile>(path, io::MappedFile::Access::kCopyOnWrite);
  const uint64_t size = mapping->size();
  MM_CHECK(size >= 8, "{}: file is {} bytes, shorter than the 8-byte safetensors header length", path, size);
  const uint64_t n = check_header_length(path, mapping->data(), size);
  Header header = parse_header(path, reinterpret_cast<const char*>(mapping->data() + 8), n, size);

  File file;
  file.metadata = std::move(header.metadata);
  if (names == nullptr) {
    for (const auto& [name, info] : header.tensors)
      file.tensors.emplace(name, make_tensor(path, printable(name), info, mapping, header.data_start));
    return file;
  }
  for (const auto& name : *names) {
    const auto it = header.tensors.find(name);
    if (it == header.tensors.end()) {
      std::string have;
      for (const auto& kv : header.tensors) have += (have.empty() ? "" : ", ") + printable(kv.first);
      MM_FAIL("{}: no tensor named '{}' (the file has: {})", path, printable(name), have);
    }
    file.tensors.emplace(name, make_tensor(path, printable(name), it->second, mapping, header.data_start));
  }
  return file;
}

}  // namespace

std::string dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  MM_FAIL("safetensors: unsupported tensor dtype {} (supported: {})", c10::toString(type), supported_dtypes());
}

torch::ScalarType scalar_type(const std::string& name) {
  const DtypeEntry* d = find_dtype(name);
  MM_CHECK(d != nullptr, "safetensors: unknown or unsupported dtype '{}' (supported: {})", name, supported_dtypes());
  return d->type;
}

File load(const std::string& path) { return load_impl(path, nullptr); }

File load_selected(const std::string& path, const std::vector<std::string>& names) { return load_impl(path, &names); }

Header read_header(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MM_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  MM_CHECK(::fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "{}: not a readable regular file", path);
  const auto size = static_cast<uint64_t>(st.st_size);
  MM_CHECK(size >= 8, "{}: file is {} bytes, shorter than the 8-byte safetensors header length", path, size);
  auto read_at = [&](void* dst, uint64_t count, uint64_t offset) {
    auto* p = static_cast<char*>(dst);
    while (count > 0) {
      const ssize_t r = ::pread(fd, p, count, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      MM_CHECK(r > 0, "{}: read failed at offset {}: {}", path, offset,
               r < 0 ? std::strerror(errno) : "unexpected end of file");
      p += r, offset += static_cast<uint64_t>(r), count -= static_cast<uint64_t>(r);
    }
  };
  uint8_t first8[8];
  read_at(first8, 8, 0);
  const uint64_t n = check_header_length(path, first8, size);
  std::string text(n, '\0');
  read_at(text.data(), n, 8);
  return parse_header(path, text.data(), n, size);
}

void save(const std::string& path, const std::map<std::string, torch::Tensor>& tensors, const Metadata& metadata) {
  struct Entry {
    const std::string* name;
    torch::Tensor data;  // contiguous, CPU
    uint64_t nbytes;
  };
  std::vector<Entry> entries;
  entries.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    MM_CHECK(name != kMetadataKey, "{}: '{}' is reserved and cannot name a tensor", path, name);
    MM_CHECK(t.defined(), "{}: tensor '{}' is undefined", path, printable(name));
    const bool supported = std::any_of(std::begin(kDtypes), std::end(kDtypes),
                                       [&](const DtypeEntry& d) { return d.type == t.scalar_type(); });
    MM_CHECK(supported, "{}: tensor '{}' has dtype {}, not storable here (supported: {})", path, printable(name),
             c10::toString(t.scalar_type()), supported_dtypes());
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    entries.push_back({&name, c, static_cast<uint64_t>(c.numel()) * c.element_size()});
  }
  // Largest elements first keeps every tensor aligned to its element size (the header is padded
  // to 8), so load() never has to copy; ties in name order.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.data.element_size() > b.data.element_size(); });

  std::string text = "{";
  try {
    if (!metadata.empty()) text += json(kMetadataKey).dump() + ":" + json(metadata).dump();
    uint64_t offset = 0;
    for (const auto& e : entries) {
      const json info = {{"dtype", dtype_name(e.data.scalar_type())},
                         {"shape", e.data.sizes().vec()},
                         {"data_offsets", {offset, offset + e.nbytes}}};
      if (text.size() > 1) text += ",";
      text += json(*e.name).dump() + ":" + info.dump();
      offset += e.nbytes;
    }
  } catch (const json::exception& e) {  // e.g. a name or metadata string that is not UTF-8
    MM_FAIL("{}: cannot write the safetensors header: {}", path, e.what());
  }
  text += "}";
  text.append((8 - text.size() % 8) % 8, ' ');
  MM_CHECK(text.size() <= kMaxHeaderBytes, "{}: safetensors header of {} bytes is above 100 MiB", path, text.size());

  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
  io::AtomicWriter writer(path);
  writer.write(prefix, sizeof prefix);
  writer.write(text);
  for (const auto& e : entries) writer.write(e.data.data_ptr(), e.nbytes);
  writer.commit();
}

}  // namespace mm::safetensors
