"""The Tool resource: stored custom function tools that assistants reference by id."""
