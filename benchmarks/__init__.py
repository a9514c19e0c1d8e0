"""Speed measurements that print figures; `make bench` (`python -m benchmarks`) runs them all."""
