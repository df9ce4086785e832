"""Matplotlib helpers for the notebooks.

Every helper takes ``ax=None`` (a new figure when None) and returns what it
drew. Importing this package imports matplotlib but changes none of its
settings; styles are passed per call.
"""
