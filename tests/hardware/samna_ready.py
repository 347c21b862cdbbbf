"""Whether the real samna 0.7.1.0 build is here, for the samna-marked tests: ``READY``,
``STATUS``, and ``needs_samna`` (skip without it). With DYNAPSE2_REQUIRE_SAMNA=1 (set by
.ci/samna_tests.sh) a missing build is an error instead of a skip."""

from __future__ import annotations

import os

import pytest

from dynapse2.hardware import samna_backend as sb

STATUS = sb.samna_status()
READY = STATUS.kind == "real" and STATUS.version == sb.SUPPORTED_SAMNA_VERSION
if not READY and os.environ.get("DYNAPSE2_REQUIRE_SAMNA") == "1":
    raise RuntimeError(
        f"DYNAPSE2_REQUIRE_SAMNA=1 but samna is {STATUS.kind} ({STATUS.detail}); "
        f"these tests need the real samna {sb.SUPPORTED_SAMNA_VERSION}"
    )
needs_samna = pytest.mark.skipif(
    not READY,
    reason=f"needs the real samna {sb.SUPPORTED_SAMNA_VERSION} (Python 3.10); "
    f"found: {STATUS.detail}",
)
