"""ClaimBridge: a clearinghouse-style sandbox portal (payer picker, tabs, claim search inside an iframe)."""
