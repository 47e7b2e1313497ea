// Tests for this target land with the issue that builds it.
