# mm_ablation_report (`mmtrain ablate report`, `ablate fit`): the statistics against mpmath
# (scripts/golden/gen_ablation_stats.py), reports of sweep folders built from known scores, the fit of
# a known linear law, and both commands through the built mmtrain.
mm_add_test(test_ablation_report
  SOURCES test_ablation_stats.cpp test_ablation_report.cpp test_ablation_fit.cpp
  LIBS mm_ablation_report)
target_compile_definitions(test_ablation_report PRIVATE MM_MMTRAIN="$<TARGET_FILE:mmtrain>")
add_dependencies(test_ablation_report mmtrain)
