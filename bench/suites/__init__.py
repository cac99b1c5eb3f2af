"""Benchmark suites: one module per area, each with `cases(ctx)` yielding runner.Case."""
