"""factorops.server"""
