"""Node parameter specs and their validation, and the pipeline description shared by launch files and runner."""
