"""ishowtts.model"""
