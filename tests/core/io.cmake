# Atomic file io and the RAII mapping (src/core/io.h).
mm_add_test(test_io SOURCES test_io.cpp LIBS mm_core)
