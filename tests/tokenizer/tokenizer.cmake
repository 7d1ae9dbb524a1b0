# Tokenizer tests: SentencePiece wrapper and trainer, special tokens, chat template, label masks.
mm_add_test(test_tokenizer
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer.cpp ${CMAKE_CURRENT_LIST_DIR}/test_chat_template.cpp
  LIBS mm_tokenizer)
# Hub tokenizers as they are: a Llama-2-style .model and byte-level BPE folders with mmtrain's tokens
# added, the carried bytes, the exported files, the llama3 / chatml / mistral templates against jinja2
# (tests/data/golden/chat, scripts/golden/gen_chat_templates.py).
mm_add_test(test_hub_tokenizer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hub_tokenizer.cpp LIBS mm_tokenizer)
