// The mm_spm_shim module: libsentencepiece behind the C interface of spm_shim.h.
#include "tokenizer/spm_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <string>
#include <unordered_map>

#define MM_SPM_EXPORT __attribute__((visibility("default")))

namespace {
void set_error(char* err, size_t cap, const std::string& msg) {
  if (!err || cap == 0) return;
  const size_t n = msg.size() < cap - 1 ? msg.size() : cap - 1;
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}
long fill(const std::string& s, char* out, size_t cap) {
  if (s.size() <= cap && out) std::memcpy(out, s.data(), s.size());
  return static_cast<long>(s.size());
}
}  // namespace

struct mm_spm {
  sentencepiece::SentencePieceProcessor sp;
};

extern "C" {

MM_SPM_EXPORT mm_spm* mm_spm_load(const char* data, size_t n, int from_file, char* err, size_t errcap) {
  auto* p = new mm_spm;
  const auto st = from_file ? p->sp.Load(std::string(data, n)) : p->sp.LoadFromSerializedProto({data, n});
  if (!st.ok()) {
    set_error(err, errcap, st.ToString());
    delete p;
    return nullptr;
  }
  return p;
}

MM_SPM_EXPORT void mm_spm_free(mm_spm* p) { delete p; }

MM_SPM_EXPORT long mm_spm_encode(const mm_spm* p, const char* text, size_t n, int* out, size_t cap, char* err,
                                 size_t errcap) {
  std::vector<int> ids;
  const auto st = p->sp.Encode({text, n}, &ids);
  if (!st.ok()) {
    set_error(err, errcap, st.ToString());
    return -1;
  }
  if (ids.size() <= cap && out) std::memcpy(out, ids.data(), ids.size() * sizeof(int));
  return static_cast<long>(ids.size());
}

MM_SPM_EXPORT long mm_spm_decode(const mm_spm* p, const int* ids, size_t n, char* out, size_t cap, char* err,
                                 size_t errcap) {
  std::string s;
  const auto st = p->sp.Decode(std::vector<int>(ids, ids + n), &s);
  if (!st.ok()) {
    set_error(err, errcap, st.ToString());
    return -1;
  }
  return fill(s, out, cap);
}

MM_SPM_EXPORT long mm_spm_id_to_piece(const mm_spm* p, int id, char* out, size_t cap) {
  return fill(p->sp.IdToPiece(id), out, cap);
}

MM_SPM_EXPORT long mm_spm_serialized(const mm_spm* p, char* out, size_t cap) {
  return fill(p->sp.serialized_model_proto(), out, cap);
}

MM_SPM_EXPORT int mm_spm_piece_to_id(const mm_spm* p, const char* piece, size_t n) {
  return p->sp.PieceToId({piece, n});
}

MM_SPM_EXPORT int mm_spm_piece_size(const mm_spm* p) { return p->sp.GetPieceSize(); }

MM_SPM_EXPORT int mm_spm_special_id(const mm_spm* p, int which) {
  switch (which) {
    case 0:
      return p->sp.unk_id();
    case 1:
      return p->sp.bos_id();
    case 2:
      return p->sp.eos_id();
    default:
      return p->sp.pad_id();
  }
}

MM_SPM_EXPORT int mm_spm_is(const mm_spm* p, int id, int which) {
  switch (which) {
    case 0:
      return p->sp.IsControl(id);
    case 1:
      return p->sp.IsByte(id);
    default:
      return p->sp.IsUnknown(id);
  }
}

MM_SPM_EXPORT int mm_spm_train(const char* const* keys, const char* const* values, size_t n, char* err, size_t errcap) {
  std::unordered_map<std::string, std::string> kw;
  for (size_t i = 0; i < n; ++i) kw[keys[i]] = values[i];
  const auto st = sentencepiece::SentencePieceTrainer::Train(kw);
  if (!st.ok()) {
    set_error(err, errcap, st.ToString());
    return 1;
  }
  return 0;
}

}  // extern "C"
