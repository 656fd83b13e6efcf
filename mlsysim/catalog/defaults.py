"""The defaults of a question, shared by every way of asking it.

`mlsysim eval MODEL HARDWARE`, a plan file (`mlsysim eval plan.yaml`), a catalog scenario
(`mlsysim eval scenario NAME`) and the library's `SystemEvaluator.evaluate` read their
defaults here, so the same model on the same hardware asked three ways gets one number.
This module sits in the lowest layer (catalog) so that the scenario schema can read it too.

Efficiency has no number here on purpose: when a question names none, the solvers use
the cited efficiencies of the catalog (catalog/assumptions/), never the device's peak.
"""

from __future__ import annotations

PRECISION = "fp16"
"""Compute (and, unless given, weight and KV-cache) format when none is named."""

BATCH_SIZE = 1
"""Sequences or samples per batch when none is given."""

EFFICIENCY = None
"""Achieved fraction of peak compute when none is given: None means the cited assumption."""

PROMPT_TOKENS = 512
"""Prompt tokens per request of LLM serving, and tokens per pass of an encoder, when none is given."""

OUTPUT_TOKENS = 128
"""Generated tokens per request of LLM serving when none is given."""
