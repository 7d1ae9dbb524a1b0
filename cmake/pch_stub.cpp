// Empty translation unit: carries the precompiled torch header (see CMakeLists.txt).
