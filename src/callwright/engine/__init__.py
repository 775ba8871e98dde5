"""The call engine: one session per call, turn-taking, interruptions, tools."""
