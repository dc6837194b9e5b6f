"""Bedrock adapter: boto3's bedrock-runtime client behind the core's ``ModelPort``."""
