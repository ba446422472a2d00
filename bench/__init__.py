"""Benchmarks: data generator, load runner (wrk) and micro-benchmarks; see bench/README.md."""
