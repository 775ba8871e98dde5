"""Test suites per assistant: tests (a simulated caller and expectations), runs of them
as simulated calls, and the verdicts each run stores (decision 023)."""
