// VQA accuracy with the official VQAv2 answer normalisation (the EvalAI / VQA evaluation script,
// vqaEval.py): punctuation, periods, number words, articles, contractions.
#pragma once
#include <string>
#include <vector>

namespace mm::eval {

// The official processPunctuation: each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is deleted
// when it touches a space in the input or the input holds a digit,comma,digit group ("2,000"),
// else replaced by a space; then every '.' not followed by a digit is deleted.
std::string vqa_process_punctuation(const std::string& text);

// The official processDigitArticle: lowercase, split on whitespace, number words (none, zero..ten)
// -> digits, articles a/an/the dropped, the official contractions table ("dont" -> "don't"),
// joined by single spaces.
std::string vqa_process_digit_article(const std::string& text);

// Newlines/tabs -> spaces, trim, then the two steps above.
std::string vqa_normalize(const std::string& text);

// VQA accuracy of one prediction against its references (all normalised):
//   1 reference    -> 1 if equal else 0;
//   2..9           -> min(#equal references / 3, 1);
//   10 or more     -> the official mean over the leave-one-out subsets: for each reference i,
//                     min(#equal among the others / 3, 1), averaged.
double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& references);

}  // namespace mm::eval
