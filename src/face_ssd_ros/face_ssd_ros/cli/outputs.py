"""Output paths checked before a long run: one line saying why a file or folder could not be written, or None."""
import os


def _first_existing(path):
    """The path itself or its nearest existing ancestor (absolute)."""
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _ancestor_problem(path):
    """Why the folder that would hold ``path`` cannot be created or written in, or None."""
    ancestor = _first_existing(os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(ancestor):
        return '%s is a file, not a folder' % ancestor
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return 'no permission to write in %s' % ancestor
    return None


def output_file_problem(path):
    """Why ``path`` cannot be written as a file (created with its folders, or replaced), or None.

    ``'is a folder: give a file name in it'`` for a folder; the nearest existing ancestor being a file or not
    writable otherwise. Nothing is created.
    """
    if os.path.isdir(path):
        return 'is a folder: give a file name in it'
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return 'no permission to replace it'
    return _ancestor_problem(path)


def output_folder_problem(path):
    """Why ``path`` cannot be used as an output folder (created with its parents, or written in), or None."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            return 'is a file, not a folder: give a folder name'
        if not os.access(path, os.W_OK | os.X_OK):
            return 'no permission to write in it'
        return None
    return _ancestor_problem(path)
