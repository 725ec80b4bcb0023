"""factorops.tools"""
