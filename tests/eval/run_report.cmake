# mm_run_report: majority-answer chance levels, a fake two-stage run -> Markdown tables, SVG charts,
# HTML, and `mmtrain report` (runs the built mmtrain); a run with every record (test_run_report_rich):
# Wilson intervals, scores over the steps, training charts, example images, the run's settings.
mm_add_test(test_run_report SOURCES test_run_report.cpp test_run_report_rich.cpp LIBS mm_run_report)
target_compile_definitions(test_run_report PRIVATE MM_MMTRAIN="$<TARGET_FILE:mmtrain>")
add_dependencies(test_run_report mmtrain)
