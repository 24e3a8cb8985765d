"""Channels behind one contract (``channels.base``); only this package imports wechatpy."""
