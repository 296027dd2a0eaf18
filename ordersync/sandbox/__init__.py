"""A local Taobao Open Platform gateway: protocol, trade and refund APIs, a live market,
fault injection and ground truth. Stdlib only; shares nothing with shops/trades."""
