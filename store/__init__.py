"""factorops.store"""
