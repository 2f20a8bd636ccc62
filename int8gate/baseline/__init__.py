"""The base branch: git (base versions of files, a shallow fetch of one commit), what changed against
base, and the content-keyed results cache."""
