"""The compiled fast path (resolver/handle/_compiled.pyx), built by ``pip install -e .`` (``make``).

Everything else is declared in pyproject.toml; an extension module still needs this file.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize([Extension("resolver.handle._compiled", ["resolver/handle/_compiled.pyx"],
                                       extra_compile_args=["-O2"])],
                            compiler_directives={"language_level": 3}))
