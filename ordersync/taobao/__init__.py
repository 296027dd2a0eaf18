"""A framework-free client for the Taobao Open Platform (TOP) gateway."""
