"""ishowtts.server"""
