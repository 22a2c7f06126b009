"""AWS CDK (Python) app of the xvaflow serverless pipeline; see infra/app.py."""
