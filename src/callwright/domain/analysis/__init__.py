"""Post-call analysis: the assistant's ``analysis_plan`` (plan), what a model makes of
a finished call's transcript under it (analyzer), the durable jobs that run it off the
call path (jobs), the end-of-call report held for it (report) and the re-run (service)."""
