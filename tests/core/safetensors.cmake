# safetensors reader/writer; cross-checked against scripts/golden/safetensors_io.py when a
# python3 with numpy is found (MM_PYTHON, then python3, then /usr/bin/python3), else skipped.
mm_add_test(test_safetensors SOURCES test_safetensors.cpp LIBS mm_core)
