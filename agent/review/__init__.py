"""`agent review`, the CI bot for pull requests: diff selection, critics in review mode, merging,
output formats and posting to GitHub. Nothing here has side effects at import."""
