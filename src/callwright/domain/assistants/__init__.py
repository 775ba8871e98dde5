"""The Assistant resource: schemas, rules, queries and the vendor dialects."""
