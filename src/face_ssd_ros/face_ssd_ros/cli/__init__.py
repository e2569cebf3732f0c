"""What the command lines share: argument types that refuse bad numbers in one line (``args``) and output paths
checked before a long run (``outputs``)."""
