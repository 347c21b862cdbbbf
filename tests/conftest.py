"""Shared test configuration: float32 JAX on CPU, deterministic."""

import jax

jax.config.update("jax_platform_name", "cpu")
