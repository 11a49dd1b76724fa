"""The service spec: YAML source → typed, checked model."""

from backforge.spec.load import load_spec, load_spec_text
from backforge.spec.model import FieldSpec, ResourceSpec, ServiceSpec

__all__ = ["FieldSpec", "ResourceSpec", "ServiceSpec", "load_spec", "load_spec_text"]
