"""Tools above the apps: the benchmarks and the demo, which drive shops and trades."""
