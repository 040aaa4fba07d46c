"""ishowtts.voices"""
