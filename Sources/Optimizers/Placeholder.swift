// Filled in by the issues that need it.
