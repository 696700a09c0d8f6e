"""Importing the directory: format readers → records → one all-or-nothing write."""
