"""ishowtts.engine"""
