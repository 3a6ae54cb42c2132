"""One package per payer portal: adapter, page objects, manifest, status map, conformance cases."""
