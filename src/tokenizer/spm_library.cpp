#include "tokenizer/spm_library.h"

#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/check.h"

#ifndef MM_SPM_SHIM_PATH
#define MM_SPM_SHIM_PATH ""
#endif

namespace mm::tok {
namespace {

std::string exe_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.find_last_of('/'));
}

SpmLibrary load_library() {
  std::vector<std::string> tries;
  if (const char* env = std::getenv("MM_SPM_SHIM")) tries.emplace_back(env);
  if (std::string(MM_SPM_SHIM_PATH).size()) tries.emplace_back(MM_SPM_SHIM_PATH);
  if (const auto d = exe_dir(); !d.empty()) tries.push_back(d + "/libmm_spm_shim.so");
  tries.emplace_back("libmm_spm_shim.so");
  void* h = nullptr;
  std::string errors;
  for (const auto& path : tries) {
    h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (h) break;
    const char* e = ::dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : path);
  }
  MM_CHECK(h, "cannot load the SentencePiece module libmm_spm_shim.so (set MM_SPM_SHIM to its path): {}", errors);
  auto sym = [&](const char* name) {
    void* f = ::dlsym(h, name);
    MM_CHECK(f, "libmm_spm_shim.so lacks {}", name);
    return f;
  };
  SpmLibrary lib;
  lib.load = reinterpret_cast<decltype(lib.load)>(sym("mm_spm_load"));
  lib.free = reinterpret_cast<decltype(lib.free)>(sym("mm_spm_free"));
  lib.encode = reinterpret_cast<decltype(lib.encode)>(sym("mm_spm_encode"));
  lib.decode = reinterpret_cast<decltype(lib.decode)>(sym("mm_spm_decode"));
  lib.id_to_piece = reinterpret_cast<decltype(lib.id_to_piece)>(sym("mm_spm_id_to_piece"));
  lib.serialized = reinterpret_cast<decltype(lib.serialized)>(sym("mm_spm_serialized"));
  lib.piece_to_id = reinterpret_cast<decltype(lib.piece_to_id)>(sym("mm_spm_piece_to_id"));
  lib.piece_size = reinterpret_cast<decltype(lib.piece_size)>(sym("mm_spm_piece_size"));
  lib.special_id = reinterpret_cast<decltype(lib.special_id)>(sym("mm_spm_special_id"));
  lib.is = reinterpret_cast<decltype(lib.is)>(sym("mm_spm_is"));
  lib.train = reinterpret_cast<decltype(lib.train)>(sym("mm_spm_train"));
  return lib;
}

}  // namespace

const SpmLibrary& spm_library() {
  static const SpmLibrary lib = load_library();
  return lib;
}

}  // namespace mm::tok
