"""Domain packages: each holds schemas (pydantic), service (rules) and repository (queries)."""
