# Typed configuration tests (src/core/config); YAML fixtures live in tests/data/config/.
mm_add_test(test_config
  SOURCES test_config_tree.cpp test_config_typed.cpp test_config_run.cpp
  LIBS mm_core)
