// The run-time binding to the mm_spm_shim module (see spm_shim.h for why it is isolated):
// located, dlopen'ed with RTLD_LOCAL | RTLD_DEEPBIND once per process, its functions resolved.
#pragma once
#include "tokenizer/spm_shim.h"

namespace mm::tok {

struct SpmLibrary {
  decltype(&mm_spm_load) load;
  decltype(&mm_spm_free) free;
  decltype(&mm_spm_encode) encode;
  decltype(&mm_spm_decode) decode;
  decltype(&mm_spm_id_to_piece) id_to_piece;
  decltype(&mm_spm_serialized) serialized;
  decltype(&mm_spm_piece_to_id) piece_to_id;
  decltype(&mm_spm_piece_size) piece_size;
  decltype(&mm_spm_special_id) special_id;
  decltype(&mm_spm_is) is;
  decltype(&mm_spm_train) train;
};

// The loaded module. Search order: $MM_SPM_SHIM, the build tree's copy, libmm_spm_shim.so next
// to the executable, then the dynamic loader's search path. Fails with one line listing the tries.
const SpmLibrary& spm_library();

}  // namespace mm::tok
