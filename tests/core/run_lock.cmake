# One trainer per run directory (src/core/run_lock.h): a second process, a SIGKILLed holder.
mm_add_test(test_run_lock SOURCES test_run_lock.cpp LIBS mm_core)
