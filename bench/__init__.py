"""Tessera's benchmarks: `make bench`. Results are ratios against baselines measured in the same
run, because these machines are noisy."""
