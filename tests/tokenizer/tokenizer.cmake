# Tokenizer tests: SentencePiece wrapper and trainer, special tokens, chat template, label masks.
mm_add_test(test_tokenizer
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer.cpp ${CMAKE_CURRENT_LIST_DIR}/test_chat_template.cpp
  LIBS mm_tokenizer)
