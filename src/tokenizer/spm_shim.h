// A plain C interface to libsentencepiece, built as its own shared module (mm_spm_shim) and
// loaded at run time with RTLD_LOCAL | RTLD_DEEPBIND. Debian's libsentencepiece carries and
// exports its own protobuf-lite, which clashes with the libprotobuf that LibTorch loads (a crash
// at program start when both are linked); isolated this way each keeps its own protobuf.
#pragma once
#include <stddef.h>

extern "C" {

struct mm_spm;  // one SentencePieceProcessor

// Sizes: functions that fill a buffer return the size they need; call again when it exceeds cap.
// Errors: a null / negative result, with the message in err (NUL-terminated, truncated to errcap).
mm_spm* mm_spm_load(const char* data, size_t n, int from_file, char* err, size_t errcap);
void mm_spm_free(mm_spm* p);
long mm_spm_encode(const mm_spm* p, const char* text, size_t n, int* out, size_t cap, char* err, size_t errcap);
long mm_spm_decode(const mm_spm* p, const int* ids, size_t n, char* out, size_t cap, char* err, size_t errcap);
long mm_spm_id_to_piece(const mm_spm* p, int id, char* out, size_t cap);
long mm_spm_serialized(const mm_spm* p, char* out, size_t cap);
int mm_spm_piece_to_id(const mm_spm* p, const char* piece, size_t n);
int mm_spm_piece_size(const mm_spm* p);
// which: 0 unk, 1 bos, 2 eos, 3 pad
int mm_spm_special_id(const mm_spm* p, int which);
// which: 0 control, 1 byte, 2 unknown
int mm_spm_is(const mm_spm* p, int id, int which);
// Trains a model from key/value flags (SentencePieceTrainer::Train's map form); 0 on success.
int mm_spm_train(const char* const* keys, const char* const* values, size_t n, char* err, size_t errcap);

}  // extern "C"
