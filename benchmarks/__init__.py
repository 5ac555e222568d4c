"""Developer benchmarks of attnviz (not installed with the package): ``python -m benchmarks explore|streaming``."""
