# The hostile-input corpus (tests/data/hostile) and seeded mutations of it over every parser:
# zero crashes, zero hangs, one line per refusal (each family a few seconds, in a forked child).
mm_add_test(test_hostile SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hostile.cpp LIBS mm_data ${LibArchive_LIBRARIES}
            LABELS hostile)
target_include_directories(test_hostile SYSTEM PRIVATE ${LibArchive_INCLUDE_DIRS})
