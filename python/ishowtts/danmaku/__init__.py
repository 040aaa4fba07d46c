"""ishowtts.danmaku"""
