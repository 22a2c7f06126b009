"""Reusable CDK constructs of the pipeline, one class per piece, keyword-only props."""
