"""A note-taking web app on the standard library."""
