"""prism: review Word documents with Claude on Amazon Bedrock."""

__version__ = "0.1.0"
