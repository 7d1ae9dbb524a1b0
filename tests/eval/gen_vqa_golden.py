#!/usr/bin/env python3
"""Golden data for the VQA-accuracy tests: the official VQAv2 normalisation (vqaEval.py of the
VQA / EvalAI evaluation, copied below verbatim in its logic) applied to tricky answers, and the
official leave-one-out accuracy over 10 references. Writes tests/eval/data/vqa_golden.json.
Run: python3 tests/eval/gen_vqa_golden.py"""
import json
import os
import re

contractions = {"aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've",
    "he'dve": "he'd've", "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've",
    "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've",
    "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're",
    "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered":
    "where'd", "wheres": "where's", "whereve": "where've", "whod": "who'd",
    "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll", "whos":
    "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys":
    "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all",
    "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've"}
manualMap = {'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3', 'four': '4', 'five': '5', 'six': '6',
             'seven': '7', 'eight': '8', 'nine': '9', 'ten': '10'}
articles = ['a', 'an', 'the']
periodStrip = re.compile(r"(?!<=\d)(\.)(?!\d)")
commaStrip = re.compile(r"(\d)(\,)(\d)")
punct = [';', r"/", '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!']


def processPunctuation(inText):
    outText = inText
    for p in punct:
        if (p + ' ' in inText or ' ' + p in inText) or (re.search(commaStrip, inText) != None):
            outText = outText.replace(p, '')
        else:
            outText = outText.replace(p, ' ')
    outText = periodStrip.sub("", outText, re.UNICODE)
    return outText


def processDigitArticle(inText):
    outText = []
    for word in inText.lower().split():
        word = manualMap.setdefault(word, word)
        if word not in articles:
            outText.append(word)
    for wordId, word in enumerate(outText):
        if word in contractions:
            outText[wordId] = contractions[word]
    return ' '.join(outText)


def normalize(a):
    a = a.replace('\n', ' ').replace('\t', ' ').strip()
    return processDigitArticle(processPunctuation(a))


def accuracy10(pred, gts):
    # vqaEval.py's loop (normalising always; see docs/evaluation.md).
    pred = normalize(pred)
    gts = [normalize(g) for g in gts]
    accs = []
    for i in range(len(gts)):
        others = gts[:i] + gts[i + 1:]
        accs.append(min(1.0, sum(1 for g in others if g == pred) / 3.0))
    return sum(accs) / len(accs)


answers = [
    "Two", "the two dogs", "A red car.", "yes.", "no!", "2,000", "1,000 dollars", "3.5", "3.5.", "e.g. cats",
    "dont", "Dont know", "isnt it", "its", "Im fine", "somebody'd", "y'all'dve", "none", "None of them",
    "ten", "Ten.", "an apple", "theres a cat", "black and white", "black/white", "black / white",
    "left-handed", "left - handed", "(a) cat", "\"quoted\"", "what?", "ok.ok", "1.5 m", "a.m.", "Mr. Smith",
    "  spaced   out  ", "tab\there", "new\nline", "x_y", "<b>bold</b>", "one, two", "1,2", "@home", "price: $5",
    "rock 'n' roll", "the the the", "A", "An", "u.s.", "100%", "twelve", "O'clock", "oclock", "whats up",
]
cases10 = [
    ("2", ["2", "2", "2", "two", "2", "2", "2", "2", "2", "2"]),
    ("2", ["2", "2", "3", "3", "3", "3", "3", "3", "3", "3"]),
    ("2", ["2", "3", "3", "3", "3", "3", "3", "3", "3", "3"]),
    ("2", ["2", "2", "2", "3", "3", "3", "3", "3", "3", "3"]),
    ("2", ["2", "2", "2", "2", "3", "3", "3", "3", "3", "3"]),
    ("yes", ["no"] * 10),
    ("Yes.", ["yes", "yes", "yes", "no", "no", "no", "no", "no", "no", "no"]),
    ("a dog", ["dog", "dogs", "puppy", "dog", "the dog", "labrador", "dog", "dog", "dog", "pet"]),
]
out = {
    "normalize": [{"in": a, "out": normalize(a)} for a in answers],
    "accuracy10": [{"prediction": p, "answers": g, "accuracy": accuracy10(p, g)} for p, g in cases10],
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "vqa_golden.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
