"""The one thing pyproject.toml cannot say for every setuptools: the checker's compiled
search (checker/_native.c), built by `make install` (``pip install -e``) and optional: a
machine without a C compiler installs without it and checks on the pure-Python search."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("checker._native", ["checker/_native.c"], optional=True,
                             extra_compile_args=["-O2"])])  # fmt: skip
