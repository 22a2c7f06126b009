"""CDK stacks."""
