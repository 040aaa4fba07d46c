"""ishowtts.text"""
