"""The sources: the only code that does I/O (botocore, aiobotocore, failover)."""
