"""factorops.resources"""
