"""Channels behind one contract (``channels.base``), listed once in ``channels.registry``;
only this package imports wechatpy."""
