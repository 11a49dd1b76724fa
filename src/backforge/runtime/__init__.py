"""The runtime every generated service runs on: ``core/`` is copied into the service's package
(``<package>/core/``) with the generated-file header added, next to the few core modules that
remain per-spec templates (settings, flags, spec and the modules that still depend on the spec's
parts); see ``render.runtime_files``."""
