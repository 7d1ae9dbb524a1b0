// The VQAv2 normalisation tables and the leave-one-out accuracy, as in the official vqaEval.py.
#include "eval/metrics/vqa_accuracy.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "core/check.h"

namespace mm::eval {
namespace {

constexpr char kPunct[] = {';',  '/', '[', ']', '"', '{', '}', '(', ')', '=', '+',
                           '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'};

// manualMap of vqaEval.py (note "none" -> "0").
const std::unordered_map<std::string, std::string>& manual_map() {
  static const std::unordered_map<std::string, std::string> m = {
      {"none", "0"}, {"zero", "0"}, {"one", "1"},   {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  return m;
}

// contractions of vqaEval.py, verbatim (its quirks included: capitalised keys that never match
// after lowercasing, "somebody'd" -> "somebodyd").
const std::unordered_map<std::string, std::string>& contractions() {
  static const std::unordered_map<std::string, std::string> m = {{"aint", "ain't"},
                                                                 {"arent", "aren't"},
                                                                 {"cant", "can't"},
                                                                 {"couldve", "could've"},
                                                                 {"couldnt", "couldn't"},
                                                                 {"couldn'tve", "couldn't've"},
                                                                 {"couldnt've", "couldn't've"},
                                                                 {"didnt", "didn't"},
                                                                 {"doesnt", "doesn't"},
                                                                 {"dont", "don't"},
                                                                 {"hadnt", "hadn't"},
                                                                 {"hadnt've", "hadn't've"},
                                                                 {"hadn'tve", "hadn't've"},
                                                                 {"hasnt", "hasn't"},
                                                                 {"havent", "haven't"},
                                                                 {"hed", "he'd"},
                                                                 {"hed've", "he'd've"},
                                                                 {"he'dve", "he'd've"},
                                                                 {"hes", "he's"},
                                                                 {"howd", "how'd"},
                                                                 {"howll", "how'll"},
                                                                 {"hows", "how's"},
                                                                 {"Id've", "I'd've"},
                                                                 {"I'dve", "I'd've"},
                                                                 {"Im", "I'm"},
                                                                 {"Ive", "I've"},
                                                                 {"isnt", "isn't"},
                                                                 {"itd", "it'd"},
                                                                 {"itd've", "it'd've"},
                                                                 {"it'dve", "it'd've"},
                                                                 {"itll", "it'll"},
                                                                 {"let's", "let's"},
                                                                 {"maam", "ma'am"},
                                                                 {"mightnt", "mightn't"},
                                                                 {"mightnt've", "mightn't've"},
                                                                 {"mightn'tve", "mightn't've"},
                                                                 {"mightve", "might've"},
                                                                 {"mustnt", "mustn't"},
                                                                 {"mustve", "must've"},
                                                                 {"neednt", "needn't"},
                                                                 {"notve", "not've"},
                                                                 {"oclock", "o'clock"},
                                                                 {"oughtnt", "oughtn't"},
                                                                 {"ow's'at", "'ow's'at"},
                                                                 {"'ows'at", "'ow's'at"},
                                                                 {"'ow'sat", "'ow's'at"},
                                                                 {"shant", "shan't"},
                                                                 {"shed've", "she'd've"},
                                                                 {"she'dve", "she'd've"},
                                                                 {"she's", "she's"},
                                                                 {"shouldve", "should've"},
                                                                 {"shouldnt", "shouldn't"},
                                                                 {"shouldnt've", "shouldn't've"},
                                                                 {"shouldn'tve", "shouldn't've"},
                                                                 {"somebody'd", "somebodyd"},
                                                                 {"somebodyd've", "somebody'd've"},
                                                                 {"somebody'dve", "somebody'd've"},
                                                                 {"somebodyll", "somebody'll"},
                                                                 {"somebodys", "somebody's"},
                                                                 {"someoned", "someone'd"},
                                                                 {"someoned've", "someone'd've"},
                                                                 {"someone'dve", "someone'd've"},
                                                                 {"someonell", "someone'll"},
                                                                 {"someones", "someone's"},
                                                                 {"somethingd", "something'd"},
                                                                 {"somethingd've", "something'd've"},
                                                                 {"something'dve", "something'd've"},
                                                                 {"somethingll", "something'll"},
                                                                 {"thats", "that's"},
                                                                 {"thered", "there'd"},
                                                                 {"thered've", "there'd've"},
                                                                 {"there'dve", "there'd've"},
                                                                 {"therere", "there're"},
                                                                 {"theres", "there's"},
                                                                 {"theyd", "they'd"},
                                                                 {"theyd've", "they'd've"},
                                                                 {"they'dve", "they'd've"},
                                                                 {"theyll", "they'll"},
                                                                 {"theyre", "they're"},
                                                                 {"theyve", "they've"},
                                                                 {"twas", "'twas"},
                                                                 {"wasnt", "wasn't"},
                                                                 {"wed've", "we'd've"},
                                                                 {"we'dve", "we'd've"},
                                                                 {"weve", "we've"},
                                                                 {"werent", "weren't"},
                                                                 {"whatll", "what'll"},
                                                                 {"whatre", "what're"},
                                                                 {"whats", "what's"},
                                                                 {"whatve", "what've"},
                                                                 {"whens", "when's"},
                                                                 {"whered", "where'd"},
                                                                 {"wheres", "where's"},
                                                                 {"whereve", "where've"},
                                                                 {"whod", "who'd"},
                                                                 {"whod've", "who'd've"},
                                                                 {"who'dve", "who'd've"},
                                                                 {"wholl", "who'll"},
                                                                 {"whos", "who's"},
                                                                 {"whove", "who've"},
                                                                 {"whyll", "why'll"},
                                                                 {"whyre", "why're"},
                                                                 {"whys", "why's"},
                                                                 {"wont", "won't"},
                                                                 {"wouldve", "would've"},
                                                                 {"wouldnt", "wouldn't"},
                                                                 {"wouldnt've", "wouldn't've"},
                                                                 {"wouldn'tve", "wouldn't've"},
                                                                 {"yall", "y'all"},
                                                                 {"yall'll", "y'all'll"},
                                                                 {"y'allll", "y'all'll"},
                                                                 {"yall'd've", "y'all'd've"},
                                                                 {"y'alld've", "y'all'd've"},
                                                                 {"y'all'dve", "y'all'd've"},
                                                                 {"youd", "you'd"},
                                                                 {"youd've", "you'd've"},
                                                                 {"you'dve", "you'd've"},
                                                                 {"youll", "you'll"},
                                                                 {"youre", "you're"},
                                                                 {"youve", "you've"}};
  return m;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Python's str.isspace for ASCII: space, \t \n \v \f \r and the separators \x1c..\x1f.
bool is_py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); }

// re.search("(\d)(\,)(\d)", text) != None
bool has_digit_comma_digit(const std::string& s) {
  for (size_t i = 1; i + 1 < s.size(); ++i)
    if (s[i] == ',' && is_digit(s[i - 1]) && is_digit(s[i + 1])) return true;
  return false;
}

}  // namespace

std::string vqa_process_punctuation(const std::string& in) {
  const bool comma_digits = has_digit_comma_digit(in);
  std::string out = in;
  for (char p : kPunct) {
    // The condition looks at the original input, as the official code does.
    const std::string p_space = std::string(1, p) + " ", space_p = " " + std::string(1, p);
    const bool drop = in.find(p_space) != std::string::npos || in.find(space_p) != std::string::npos || comma_digits;
    std::string next;
    next.reserve(out.size());
    for (char c : out) {
      if (c != p)
        next += c;
      else if (!drop)
        next += ' ';
    }
    out.swap(next);
  }
  // periodStrip "(?!<=\d)(\.)(?!\d)": its first group is a (mistyped) lookahead that always
  // holds at a '.', so every '.' not followed by a digit goes.
  std::string result;
  result.reserve(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '.' && !(i + 1 < out.size() && is_digit(out[i + 1]))) continue;
    result += out[i];
  }
  return result;
}

std::string vqa_process_digit_article(const std::string& in) {
  std::string lower = in;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::string> words;
  size_t i = 0;
  while (i < lower.size()) {
    while (i < lower.size() && is_py_space(lower[i])) ++i;
    size_t j = i;
    while (j < lower.size() && !is_py_space(lower[j])) ++j;
    if (j > i) {
      std::string w = lower.substr(i, j - i);
      if (auto it = manual_map().find(w); it != manual_map().end()) w = it->second;
      if (w != "a" && w != "an" && w != "the") words.push_back(std::move(w));
    }
    i = j;
  }
  std::string out;
  for (auto& w : words) {
    if (auto it = contractions().find(w); it != contractions().end()) w = it->second;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::string vqa_normalize(const std::string& text) {
  std::string s = text;
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  size_t b = 0, e = s.size();
  while (b < e && is_py_space(s[b])) ++b;
  while (e > b && is_py_space(s[e - 1])) --e;
  return vqa_process_digit_article(vqa_process_punctuation(s.substr(b, e - b)));
}

double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& references) {
  MM_CHECK(!references.empty(), "vqa_accuracy needs at least one reference answer");
  const std::string pred = vqa_normalize(prediction);
  std::vector<bool> equal(references.size());
  int matches = 0;
  for (size_t i = 0; i < references.size(); ++i) {
    equal[i] = vqa_normalize(references[i]) == pred;
    matches += equal[i];
  }
  if (references.size() == 1) return matches;
  if (references.size() < 10) return std::min(1.0, matches / 3.0);
  double sum = 0;
  for (size_t i = 0; i < references.size(); ++i) sum += std::min(1.0, (matches - (equal[i] ? 1 : 0)) / 3.0);
  return sum / static_cast<double>(references.size());
}

}  // namespace mm::eval
