// The format registry: format name ("wds", "captions", "interleaved", "llava", "text") -> reader.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data_pipeline/formats/source.h"

namespace mm::data {

class Quarantine;

using SourceFactory = std::function<std::unique_ptr<Source>(const SourceConfig&)>;

// Sorted names of the registered formats.
std::vector<std::string> source_format_names();

// Opens (indexes) a source with the reader its `format` names; an unknown format fails listing
// the valid names. Entries found while indexing are also added to `quarantine` when given.
std::unique_ptr<Source> open_source(const SourceConfig& cfg, Quarantine* quarantine = nullptr);

}  // namespace mm::data
