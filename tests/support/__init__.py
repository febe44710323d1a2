"""Helpers shared by more than one test module: fakes, fixtures' factories, the sim harness.

Test modules import them as ``tests.support.NAME``; nothing outside tests/ may.
"""
