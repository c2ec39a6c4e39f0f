"""Demo assistants shipped with the package (runnable offline with the scripted model)."""
