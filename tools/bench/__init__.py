"""Benchmark helpers: a sandbox in its own process, throwaway tenants, figures to print."""
