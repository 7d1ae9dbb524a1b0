// Exact match after a light normalisation (trim, lowercase, inner whitespace collapsed).
#pragma once
#include <string>
#include <vector>

namespace mm::eval {

// Trims, lowercases (ASCII) and collapses runs of whitespace to one space.
std::string normalize_light(const std::string& text);

// 1 when the normalised prediction equals any normalised reference, else 0.
double exact_match(const std::string& prediction, const std::vector<std::string>& references);

}  // namespace mm::eval
