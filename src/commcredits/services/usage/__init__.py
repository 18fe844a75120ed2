"""Usage: validating and charging call records (API, files, streams), and the PSTN usage report
with its exports.
"""
