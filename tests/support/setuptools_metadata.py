"""Core metadata as setuptools wrote it for years, copied from real wheels on PyPI:
``Metadata-Version: 2.1`` with ``License-File``, a field of 2.4 (pypa/setuptools#4759).
PyPI serves these wheels, so tufpi must take them. The headers are verbatim; each long
description is cut after its first lines.
"""

from __future__ import annotations

import zipfile

from tests.support.wheelfile import zip_wheel

SIX_WHEEL = "six-1.17.0-py2.py3-none-any.whl"
DATEUTIL_WHEEL = "python_dateutil-2.9.0.post0-py2.py3-none-any.whl"
BOTOCORE_WHEEL = "botocore-1.44.18-py3-none-any.whl"

# six 1.17.0's METADATA, whole (six 1.16.0's has no License-File).
SIX_1_17 = b"""\
Metadata-Version: 2.1
Name: six
Version: 1.17.0
Summary: Python 2 and 3 compatibility utilities
Home-page: https://github.com/benjaminp/six
Author: Benjamin Peterson
Author-email: benjamin@python.org
License: MIT
Classifier: Development Status :: 5 - Production/Stable
Classifier: Programming Language :: Python :: 2
Classifier: Programming Language :: Python :: 3
Classifier: Intended Audience :: Developers
Classifier: License :: OSI Approved :: MIT License
Classifier: Topic :: Software Development :: Libraries
Classifier: Topic :: Utilities
Requires-Python: >=2.7, !=3.0.*, !=3.1.*, !=3.2.*
License-File: LICENSE

.. image:: https://img.shields.io/pypi/v/six.svg
   :target: https://pypi.org/project/six/
   :alt: six on PyPI

.. image:: https://readthedocs.org/projects/six/badge/?version=latest
   :target: https://six.readthedocs.io/
   :alt: six's documentation on Read the Docs

.. image:: https://img.shields.io/badge/license-MIT-green.svg
   :target: https://github.com/benjaminp/six/blob/master/LICENSE
   :alt: MIT License badge

Six is a Python 2 and 3 compatibility library.  It provides utility functions
for smoothing over the differences between the Python versions with the goal of
writing Python code that is compatible on both Python versions.  See the
documentation for more information on what is provided.

Six supports Python 2.7 and 3.3+.  It is contained in only one Python
file, so it can be easily copied into your project. (The copyright and license
notice must be retained.)

Online documentation is at https://six.readthedocs.io/.

Bugs can be reported to https://github.com/benjaminp/six.  The code can also
be found there.
"""

# python-dateutil 2.9.0.post0, its description cut.
DATEUTIL_2_9 = b"""\
Metadata-Version: 2.1
Name: python-dateutil
Version: 2.9.0.post0
Summary: Extensions to the standard Python datetime module
Home-page: https://github.com/dateutil/dateutil
Author: Gustavo Niemeyer
Author-email: gustavo@niemeyer.net
Maintainer: Paul Ganssle
Maintainer-email: dateutil@python.org
License: Dual License
Project-URL: Documentation, https://dateutil.readthedocs.io/en/stable/
Project-URL: Source, https://github.com/dateutil/dateutil
Classifier: Development Status :: 5 - Production/Stable
Classifier: Intended Audience :: Developers
Classifier: License :: OSI Approved :: BSD License
Classifier: License :: OSI Approved :: Apache Software License
Classifier: Programming Language :: Python
Classifier: Programming Language :: Python :: 2
Classifier: Programming Language :: Python :: 2.7
Classifier: Programming Language :: Python :: 3
Classifier: Programming Language :: Python :: 3.3
Classifier: Programming Language :: Python :: 3.4
Classifier: Programming Language :: Python :: 3.5
Classifier: Programming Language :: Python :: 3.6
Classifier: Programming Language :: Python :: 3.7
Classifier: Programming Language :: Python :: 3.8
Classifier: Programming Language :: Python :: 3.9
Classifier: Programming Language :: Python :: 3.10
Classifier: Programming Language :: Python :: 3.11
Classifier: Programming Language :: Python :: 3.12
Classifier: Topic :: Software Development :: Libraries
Requires-Python: !=3.0.*,!=3.1.*,!=3.2.*,>=2.7
Description-Content-Type: text/x-rst
License-File: LICENSE
Requires-Dist: six >=1.5

dateutil - powerful extensions to datetime
==========================================

"""

# botocore 1.44.18: two License-File; its description cut.
BOTOCORE_1_44 = b"""\
Metadata-Version: 2.1
Name: botocore
Version: 1.44.18
Summary: Low-level, data-driven core of boto 3.
Home-page: https://github.com/boto/botocore
Author: Amazon Web Services
License: Apache-2.0
Classifier: Development Status :: 5 - Production/Stable
Classifier: Intended Audience :: Developers
Classifier: Intended Audience :: System Administrators
Classifier: Natural Language :: English
Classifier: Programming Language :: Python
Classifier: Programming Language :: Python :: 3 :: Only
Classifier: Programming Language :: Python :: 3
Classifier: Programming Language :: Python :: 3.10
Classifier: Programming Language :: Python :: 3.11
Classifier: Programming Language :: Python :: 3.12
Classifier: Programming Language :: Python :: 3.13
Classifier: Programming Language :: Python :: 3.14
Classifier: Programming Language :: Python :: Free Threading :: 2 - Beta
Requires-Python: >= 3.10
License-File: LICENSE.txt
License-File: NOTICE
Requires-Dist: jmespath (<2.0.0,>=0.7.1)
Requires-Dist: python-dateutil (<3.0.0,>=2.1)
Requires-Dist: urllib3 (!=2.2.0,<3,>=1.25.4)
Provides-Extra: crt
Requires-Dist: awscrt (==0.38.0) ; extra == 'crt'

botocore
========

|Version| |Python| |License|

A low-level interface to a growing number of Amazon Web Services. The
"""


def with_header(metadata: bytes, line: str) -> bytes:
    """``metadata`` with the header ``line`` added after its last header."""
    headers, _, body = metadata.partition(b"\n\n")
    return headers + b"\n" + line.encode() + b"\n\n" + body


def with_name(metadata: bytes, name: str) -> bytes:
    """``metadata`` with its ``Name`` header saying ``name``."""
    lines = metadata.split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"Name: "))
    lines[at] = f"Name: {name}".encode()
    return b"\n".join(lines)


def wheel_of(filename: str, metadata: bytes) -> bytes:
    """A wheel named ``filename`` holding ``metadata`` as its METADATA and, as setuptools
    laid it out under Metadata-Version 2.1, its ``LICENSE`` beside it in ``.dist-info``;
    the same bytes for the same arguments."""
    name, version = filename.split("-")[:2]
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": b"",
        f"{info}/LICENSE": b"Copyright (c) 2010-2020 Benjamin Peterson\n",
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: bdist_wheel (0.36.2)\n"
        b"Root-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n",
    }
    return zip_wheel(files, info, zipfile.ZIP_DEFLATED)
