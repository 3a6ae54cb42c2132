"""Lakeside Health Cooperative, worked through the ClaimBridge clearinghouse portal."""
