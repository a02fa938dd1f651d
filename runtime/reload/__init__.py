"""Hot reload: code versions (content hashes), file watching, debouncing and applying changes live.

May import: config, execution, and the shared vocabulary.
"""
