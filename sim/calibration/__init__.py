"""Calibration against Hong Kong 2015-2019: targets, priors, ABC-SMC, point fit, posterior."""
