"""Presenting results: terminal tables and text formats."""
