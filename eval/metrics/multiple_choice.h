// Multiple-choice accuracy: which option a free-form answer names, by letter or by option text.
#pragma once
#include <string>
#include <vector>

namespace mm::eval {

// The option (0 = A) that `text` names, or -1. Rules, in order:
//  1. trim; drop a leading "answer", "option(s)", "choice(s)", "the answer is", "the correct answer is",
//     "answer:" and the like (case-insensitive);
//  2. a letter: "(B)..." (parenthesised, anything after), or a single letter alone or followed by
//     '.', ':' or ')' ("B", "b", "B.", "B) cat", "B: cat"); a letter past the last option -> -1
//     (a named but missing option is wrong, never reinterpreted as text);
//  3. option text: the whole text (before or after step 1), lowercased, whitespace collapsed and
//     one trailing '.' dropped, equal to an option's text normalised the same way -> that option
//     (the first such option when options repeat).
// "A cat" is not the letter A: a bare letter must stand alone or be followed by . : ).
int resolve_choice(const std::string& text, const std::vector<std::string>& choices);

// 1 when prediction and reference (a letter or an option's text) resolve to the same option;
// 0 otherwise, including a prediction that names no option. The reference must resolve.
double multiple_choice_accuracy(const std::string& prediction, const std::string& reference,
                                const std::vector<std::string>& choices);

}  // namespace mm::eval
