# Mixture shares, sampling proportions, determinism, resume and sharding.
mm_add_test(test_mixture SOURCES mixture/test_mixture.cpp LIBS mm_data)
