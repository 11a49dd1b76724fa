"""Cross-cutting parts every feature uses: settings, database, errors, schemas, listing."""
